// Package svc supervises services described by unit files: it starts them in
// dependency order and in parallel, tracks readiness (sd_notify), restarts
// them with backoff and a burst limit, captures their output, gates them by
// consciousness level and stops them in reverse order.
//
// It runs unprivileged (as under go test) as well as in PID 1. Processes are
// started through a Spawner (the init's reaper), never os/exec.
package svc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/guard"
	"github.com/genai-os/genai-build/initramfs/reaper"
	"github.com/genai-os/genai-build/initramfs/unit"
	"golang.org/x/sys/unix"
)

// State is where a service is in its life.
type State string

const (
	Inactive   State = "inactive"
	Starting   State = "starting"
	Running    State = "running"
	Exited     State = "exited" // a oneshot that succeeded
	Restarting State = "restarting"
	Stopping   State = "stopping"
	Failed     State = "failed"
)

// BootTargets are the WantedBy= values that make a unit start at boot. A unit
// without an [Install] section also starts at boot: every unit in the
// services folder is meant to run unless it says otherwise.
var bootTargets = map[string]bool{"multi-user.target": true, "default.target": true, "consciousness.target": true,
	"sockets.target": true}

// Spawner starts processes and reports their exit (see reaper.Reaper).
type Spawner interface {
	Start(argv0 string, argv []string, attr *syscall.ProcAttr) (int, <-chan reaper.Exit, error)
}

// Config is what a Manager needs. Units, Spawner and Clock are required.
type Config struct {
	Units     []*unit.Unit
	Level     bootconf.Level
	Spawner   Spawner
	Clock     func() time.Duration // time since boot, for timelines (boot.SinceBoot in PID 1)
	Root      string               // where etc/passwd and etc/group are; "/" in PID 1
	RunDir    string               // NOTIFY_SOCKET is RunDir/notify; "" disables Type=notify readiness
	LogDir    string               // <name>.log files; "" keeps logs in memory only
	CgroupDir string               // one cgroup per service under it; "" uses process groups only
	Env       []string             // base environment of every service (PATH, ...)
	AIEnv     []string             // added for AIIntegration=enabled
	RingBytes int                  // per-service in-memory log; default 64 KiB
	LogBytes  int64                // per-service log file before rotation; default 1 MiB
	Log       *slog.Logger
	// SocketExec runs as SocketExecName PATH ARGV0 ARGS... (see ExecListen): it starts the
	// services of Accept=no sockets. "" refuses such sockets.
	SocketExec string
	// SandboxExec runs as sandbox.ExecName SPEC PATH ARGV0 ARGS... (see sandbox.Exec): it starts
	// the commands of units with sandbox keys (unit.Sandbox.Active). "" refuses such units.
	SandboxExec string
	// Fault, when set, is called by a unit's supervisor goroutine as it begins, with the unit's
	// name: a test makes it panic to show that a supervisor's panic is contained. Nil in
	// production (see the init's faultinject build tag).
	Fault func(unit string)
}

// Manager supervises a fixed set of units.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	mu    sync.Mutex
	level bootconf.Level
	svcs  map[string]*service
	units map[string]*unit.Unit
	names []string
	g     graph
	// The NOTIFY_SOCKET: see notifyConn.
	notifyOnce sync.Once
	notify     *net.UnixConn
	notifyErr  error
	// pumps counts the goroutines copying services' output into their logs (see FlushLogs).
	pumps sync.WaitGroup
	// events goes to the subscribers of Subscribe.
	events hub
	// The memory and pids controllers, enabled for the services' cgroups at the first limit.
	controllersOnce sync.Once
	controllersErr  error
}

// goSafe runs f in a goroutine whose panic is logged with its stack and ends only that goroutine.
func (m *Manager) goSafe(name string, f func()) { guard.Go(m.log, name, f) }

type service struct {
	u         *unit.Unit
	boot      bool
	state     State
	result    string
	pid, pgid int
	mainPID   int
	status    string
	since     time.Duration
	startedAt time.Duration
	readyAt   time.Duration
	restarts  int
	starts    []time.Duration
	ring      *ring
	lf        *logFile
	changed   chan struct{}
	run       *runner
	ready     chan struct{}
	readyDone bool
	cg        string
	// A socket's connections: being served, and accepted since it started listening.
	active, accepted int
	// An Accept=no socket's listening descriptors while it listens; the socket of a service that
	// such a socket activates.
	fds    []int
	socket *service
	// A template's instances running now.
	instances int
	// A target's outcome: reached is closed by Reach, reachedOK says how.
	reached   chan struct{}
	reachedOK bool
	// The crash history (see History); outDone is closed when the output of the last process
	// started has all been read.
	exits   []Exit
	outDone chan struct{}
}

type runner struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func (r *runner) requestStop() { r.stopOnce.Do(func() { close(r.stop) }) }

// New makes a Manager. The returned messages report ordering cycles that were
// broken; they do not stop it.
func New(cfg Config) (*Manager, []string, error) {
	if cfg.Spawner == nil || cfg.Clock == nil {
		return nil, nil, errors.New("svc: Config needs a Spawner and a Clock")
	}
	if cfg.RingBytes == 0 {
		cfg.RingBytes = 64 << 10
	}
	if cfg.LogBytes == 0 {
		cfg.LogBytes = 1 << 20
	}
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, log: log, level: cfg.Level, svcs: map[string]*service{}, units: map[string]*unit.Unit{}}
	for _, u := range cfg.Units {
		if _, dup := m.units[u.Name]; dup {
			return nil, nil, fmt.Errorf("svc: unit %s given twice", u.Name)
		}
		m.units[u.Name] = u
		s := &service{u: u, state: Inactive, ring: newRing(cfg.RingBytes), changed: make(chan struct{}), reached: make(chan struct{})}
		s.boot = !u.HasInstall
		for _, w := range u.WantedBy {
			s.boot = s.boot || bootTargets[w]
		}
		s.boot = s.boot && !u.IsTemplate()
		if cfg.LogDir != "" {
			s.lf = &logFile{path: filepath.Join(cfg.LogDir, u.Name+".log"), max: cfg.LogBytes}
		}
		if cfg.CgroupDir != "" {
			s.cg = filepath.Join(cfg.CgroupDir, u.Name)
		}
		m.svcs[u.Name] = s
		m.names = append(m.names, u.Name)
	}
	sort.Strings(m.names)
	var msgs []string
	for _, n := range m.names { // in name order: the first socket of a service wins
		s := m.svcs[n]
		if s.u.Type != unit.Socket || s.u.Accept {
			continue
		}
		switch t := m.svcs[s.u.Activates()]; {
		case t == nil:
			msgs = append(msgs, fmt.Sprintf("%s: activates %s, which is not a loaded unit", s.u.Name, s.u.Activates()))
		case t.socket != nil:
			msgs = append(msgs, fmt.Sprintf("%s: %s already gets the sockets of %s; ignored", s.u.Name, t.u.Name, t.socket.u.Name))
		default:
			t.socket = s
		}
	}
	g, gmsgs := buildGraph(m.units)
	m.g, msgs = g, append(msgs, gmsgs...)
	if cfg.LogDir != "" {
		if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
			msgs = append(msgs, fmt.Sprintf("log folder: %v", err))
		}
	}
	return m, msgs, nil
}

// notifyConn returns the NOTIFY_SOCKET, made when the first Type=notify unit starts (under
// emulation the first socket costs a boot some 10 ms of code it would otherwise not run yet),
// or nil without a RunDir.
func (m *Manager) notifyConn() (*net.UnixConn, error) {
	m.notifyOnce.Do(func() {
		if m.cfg.RunDir == "" {
			return
		}
		c, err := listenNotify(filepath.Join(m.cfg.RunDir, "notify"))
		if err != nil {
			m.notifyErr = fmt.Errorf("notify socket: %w", err)
			return
		}
		m.notify = c
		m.goSafe("notify socket", func() { readNotify(c, m.deliver) })
	})
	return m.notify, m.notifyErr
}

// Close releases the notify socket. Services keep running.
func (m *Manager) Close() error {
	m.notifyOnce.Do(func() {}) // none will be made after this
	if m.notify != nil {
		return m.notify.Close()
	}
	return nil
}

func (m *Manager) setState(s *service, st State, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setStateLocked(s, st, result)
}

func (m *Manager) setStateLocked(s *service, st State, result string) {
	if s.state != st {
		switch st {
		case Failed:
			m.log.Warn("service failed", "service", s.u.Name, "result", result)
		case Restarting: // runLoop logs it with the delay
		default:
			m.log.Debug("service "+string(st), "service", s.u.Name, "result", result)
		}
	}
	if s.state != st || s.result != result {
		m.events.publish(Event{TimeMs: m.cfg.Clock().Milliseconds(), Kind: "unit", Unit: s.u.Name, State: string(st), Result: result})
	}
	s.state, s.result, s.since = st, result, m.cfg.Clock()
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitSettled waits until s is neither starting nor stopping.
func (m *Manager) waitSettled(s *service) State {
	for {
		m.mu.Lock()
		st, ch := s.state, s.changed
		m.mu.Unlock()
		if st != Starting && st != Stopping {
			return st
		}
		<-ch
	}
}

// Report counts the outcome of a start: Total units were due to start (those
// gated by level are Skipped, not counted), OK of them are running or exited.
type Report struct {
	OK      int      `json:"ok"`
	Total   int      `json:"total"`
	Failed  []string `json:"failed,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
}

// StartBoot starts every unit wanted at boot and what they pull in, and
// returns once each has settled (ready, exited or failed).
func (m *Manager) StartBoot() Report {
	var names []string
	for _, n := range m.names {
		if m.svcs[n].boot {
			names = append(names, n)
		}
	}
	return m.startSet(names)
}

// Start starts units (and what they pull in) and waits until they settle.
func (m *Manager) Start(names ...string) (Report, error) {
	for _, n := range names {
		if m.svcs[n] == nil {
			return Report{}, fmt.Errorf("%s: %w", n, ErrNoUnit)
		}
		if m.svcs[n].u.IsTemplate() {
			return Report{}, fmt.Errorf("%s %w", n, ErrTemplate)
		}
	}
	return m.startSet(names), nil
}

// ErrNoUnit: the name is not a loaded unit; check the name or the unit file's diagnostics.
var ErrNoUnit = errors.New("no such unit")

func (m *Manager) startSet(names []string) Report {
	set, missing := closure(m.units, names)
	in := map[string]chan struct{}{}
	for _, n := range set {
		in[n] = make(chan struct{})
	}
	type outcome struct {
		name        string
		ok, skipped bool
	}
	out := make(chan outcome, len(set))
	for _, n := range set {
		go func() {
			defer close(in[n])
			// A panic must still answer the start, or the caller (the boot) would wait forever.
			defer guard.Recover(m.log, "start "+n, func(*guard.Panic) { out <- outcome{name: n} })
			s := m.svcs[n]
			for _, p := range m.g.preds[n] {
				if ch, ok := in[p]; ok {
					<-ch
				}
			}
			m.mu.Lock()
			gated := s.u.ConsciousnessLevel > m.level
			m.mu.Unlock()
			if gated {
				m.mu.Lock()
				if s.run == nil {
					m.setStateLocked(s, Inactive, "level")
				}
				m.mu.Unlock()
				out <- outcome{name: n, skipped: true}
				return
			}
			if unmet := m.unmetCondition(s.u); unmet != "" {
				m.mu.Lock()
				if s.run == nil {
					m.setStateLocked(s, Inactive, "condition "+unmet)
				}
				m.mu.Unlock()
				out <- outcome{name: n, skipped: true}
				return
			}
			if len(missing[n]) > 0 {
				m.setState(s, Failed, "dependency missing: "+strings.Join(missing[n], " "))
				out <- outcome{name: n}
				return
			}
			for _, r := range s.u.Requires {
				if d := m.svcs[r]; d != nil {
					if st := m.waitSettled(d); st != Running && st != Exited {
						m.setState(s, Failed, "dependency failed: "+r)
						out <- outcome{name: n}
						return
					}
				}
			}
			m.launch(s)
			st := m.waitSettled(s)
			out <- outcome{name: n, ok: st == Running || st == Exited}
		}()
	}
	var rep Report
	for range set {
		o := <-out
		switch {
		case o.skipped:
			rep.Skipped = append(rep.Skipped, o.name)
		case o.ok:
			rep.OK++
			rep.Total++
		default:
			rep.Total++
			rep.Failed = append(rep.Failed, o.name)
		}
	}
	sort.Strings(rep.Failed)
	sort.Strings(rep.Skipped)
	return rep
}

// unmetCondition returns the first of u's conditions that does not hold, as written in the
// unit ("ConditionPathExists=!/etc/x"), or "" when all hold. Paths are under the manager's root.
func (m *Manager) unmetCondition(u *unit.Unit) string {
	for _, c := range u.ConditionPathExists {
		p, negate := strings.CutPrefix(c, "!")
		_, err := os.Stat(filepath.Join(m.cfg.Root, p))
		if (err == nil) == negate {
			return "ConditionPathExists=" + c
		}
	}
	return ""
}

// launch starts the runner of s if it has none.
func (m *Manager) launch(s *service) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.run != nil || s.state == Exited || s.u.IsTemplate() { // running, a oneshot that already ran, or instances only
		return
	}
	r := &runner{stop: make(chan struct{}), done: make(chan struct{})}
	s.run = r
	s.starts = nil
	m.setStateLocked(s, Starting, "")
	go m.runLoop(s, r) // recovers its own panics (it must mark the unit failed)
}

// Stop stops units in reverse dependency order and waits for them.
func (m *Manager) Stop(names ...string) error {
	for _, n := range names {
		if m.svcs[n] == nil {
			return fmt.Errorf("%s: %w", n, ErrNoUnit)
		}
	}
	m.stopSet(names)
	return nil
}

// StopAll stops every service in reverse dependency order (for shutdown).
func (m *Manager) StopAll() { m.stopSet(m.names) }

func (m *Manager) stopSet(names []string) {
	in := map[string]chan struct{}{}
	for _, n := range names {
		in[n] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(in[n])
			defer guard.Recover(m.log, "stop "+n, nil)
			for _, succ := range m.g.succs[n] { // what starts after n stops before it
				if ch, ok := in[succ]; ok {
					<-ch
				}
			}
			s := m.svcs[n]
			m.mu.Lock()
			r := s.run
			if r == nil && s.state == Exited {
				m.setStateLocked(s, Inactive, "stopped")
			}
			m.mu.Unlock()
			if r != nil {
				// One line per unit, so that a shutdown on the console shows its order.
				t0 := time.Now()
				m.log.Info("stopping", "unit", n)
				r.requestStop()
				<-r.done
				m.log.Info("stopped", "unit", n, "ms", time.Since(t0).Milliseconds())
			}
		}()
	}
	wg.Wait()
}

// ErrLogsBusy says that some service output was still being copied when FlushLogs gave up (a
// process that outlived its service still holds the pipe): the files hold what came before.
var ErrLogsBusy = errors.New("service output still arriving")

// FlushLogs is for the end of a shutdown, once the services are stopped: it waits up to timeout
// for their last output to be copied from the pipes into the logs, then writes every log file
// to disk (fsync) and closes it.
func (m *Manager) FlushLogs(timeout time.Duration) error {
	drained := make(chan struct{})
	go func() {
		m.pumps.Wait()
		close(drained)
	}()
	var errs []error
	select {
	case <-drained:
	case <-time.After(timeout):
		errs = append(errs, ErrLogsBusy)
	}
	for _, n := range m.names {
		if lf := m.svcs[n].lf; lf != nil {
			if err := lf.close(); err != nil {
				errs = append(errs, fmt.Errorf("log of %s: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Restart stops then starts units.
func (m *Manager) Restart(names ...string) (Report, error) {
	if err := m.Stop(names...); err != nil {
		return Report{}, err
	}
	return m.Start(names...)
}

// Reload runs ExecReload= of a running unit, with $MAINPID set.
func (m *Manager) Reload(name string) error {
	s := m.svcs[name]
	if s == nil {
		return fmt.Errorf("%s: %w", name, ErrNoUnit)
	}
	if len(s.u.ExecReload) == 0 {
		return fmt.Errorf("%s: no ExecReload=", name)
	}
	m.mu.Lock()
	st := s.state
	m.mu.Unlock()
	if st != Running {
		return fmt.Errorf("%s: not running (%s)", name, st)
	}
	env, cred, err := m.environment(s)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, c := range s.u.ExecReload {
		ws, _, err := m.runSync(s, c, env, cred, s.u.TimeoutStartSec, nil)
		if err != nil {
			return fmt.Errorf("%s: reload: %w", name, err)
		}
		if !ws.Exited() || ws.ExitStatus() != 0 && !c.IgnoreFailure {
			return fmt.Errorf("%s: reload: %s", name, describe(ws))
		}
	}
	return nil
}

// Reach reports that a target (unit.NewTarget) has been reached, or cannot be (ok false): the
// units waiting for it go on, and those that require it fail if it was not. Later reports of
// the same target are ignored.
func (m *Manager) Reach(name string, ok bool) error {
	s := m.svcs[name]
	if s == nil || s.u.Type != unit.Target {
		return fmt.Errorf("%s: %w", name, ErrNoUnit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-s.reached:
	default:
		s.reachedOK = ok
		close(s.reached)
	}
	return nil
}

// Level is the running consciousness level.
func (m *Manager) Level() bootconf.Level {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.level
}

// SetLevel changes the running level: units above it stop (in reverse order),
// units wanted at boot that it now allows start.
func (m *Manager) SetLevel(l bootconf.Level) Report {
	m.mu.Lock()
	if m.level != l {
		m.events.publish(Event{TimeMs: m.cfg.Clock().Milliseconds(), Kind: "level", Level: l.String()})
	}
	m.level = l
	var stop, start []string
	for _, n := range m.names {
		s := m.svcs[n]
		switch {
		case s.u.ConsciousnessLevel > l && s.run != nil:
			stop = append(stop, n)
		case s.u.ConsciousnessLevel <= l && s.boot && s.run == nil && s.state == Inactive && s.result == "level":
			start = append(start, n)
		}
	}
	m.mu.Unlock()
	m.stopSet(stop)
	for _, n := range stop {
		m.setState(m.svcs[n], Inactive, "level")
	}
	return m.startSet(start)
}

// Status is a snapshot of one service.
type Status struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"`
	State       State  `json:"state"`
	Result      string `json:"result,omitempty"`
	PID         int    `json:"pid,omitempty"`
	UptimeMs    int64  `json:"uptime_ms,omitempty"`
	Restarts    int    `json:"restarts"`
	Level       string `json:"level"`
	Boot        bool   `json:"boot"`
	StatusText  string `json:"status_text,omitempty"`
	StartedMs   int64  `json:"started_ms,omitempty"`   // since boot
	ReadyMs     int64  `json:"ready_ms,omitempty"`     // since boot
	TriggeredBy string `json:"triggered_by,omitempty"` // the socket unit that starts it
	// The unit's dependencies as its file gives them (for consciousness-debugger graph and why).
	Requires []string `json:"requires,omitempty"`
	Wants    []string `json:"wants,omitempty"`
	After    []string `json:"after,omitempty"`
	Before   []string `json:"before,omitempty"`
}

// Status returns every service (or the named ones), sorted by name.
func (m *Manager) Status(names ...string) ([]Status, error) {
	if len(names) == 0 {
		names = m.names
	}
	now := m.cfg.Clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	triggers := map[string]string{}
	for _, s := range m.svcs {
		if s.u.Type == unit.Socket {
			triggers[s.u.Activates()] = s.u.Name
		}
	}
	var out []Status
	for _, n := range names {
		s := m.svcs[n]
		if s == nil {
			return nil, fmt.Errorf("%s: %w", n, ErrNoUnit)
		}
		st := Status{Name: n, Description: s.u.Description, Type: string(s.u.Type), State: s.state,
			Result: s.result, Restarts: s.restarts, Level: s.u.ConsciousnessLevel.String(), Boot: s.boot,
			StatusText: s.status, StartedMs: s.startedAt.Milliseconds(), ReadyMs: s.readyAt.Milliseconds(),
			TriggeredBy: triggers[n], Requires: s.u.Requires, Wants: s.u.Wants, After: s.u.After, Before: s.u.Before}
		if s.state == Running || s.state == Stopping {
			st.PID = s.pid
			if s.mainPID != 0 {
				st.PID = s.mainPID
			}
		}
		if s.state == Running || s.state == Exited {
			st.UptimeMs = (now - s.readyAt).Milliseconds()
		}
		out = append(out, st)
	}
	return out, nil
}

// Logs returns the captured lines of a service.
func (m *Manager) Logs(name string) ([]LogLine, error) {
	s := m.svcs[name]
	if s == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNoUnit)
	}
	return s.ring.snapshot(), nil
}

// Follow returns the captured lines and a channel of new ones until cancel.
func (m *Manager) Follow(name string) ([]LogLine, <-chan LogLine, func(), error) {
	s := m.svcs[name]
	if s == nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", name, ErrNoUnit)
	}
	lines, ch, cancel := s.ring.follow()
	return lines, ch, cancel, nil
}

// deliver applies an sd_notify message from pid to its service: the main
// process, the MAINPID it named, or any process in its process group.
func (m *Manager) deliver(msg notifyMsg) {
	pg, _ := unix.Getpgid(msg.pid)
	m.mu.Lock()
	defer m.mu.Unlock()
	var s *service
	for _, c := range m.svcs {
		if c.run != nil && (c.pid == msg.pid || c.mainPID == msg.pid || pg > 0 && c.pgid == pg) {
			s = c
			break
		}
	}
	if s == nil {
		m.log.Debug("notify from unknown pid", "pid", msg.pid)
		return
	}
	if msg.hasStat {
		s.status = msg.status
	}
	if msg.mainPID != 0 {
		s.mainPID = msg.mainPID
	}
	if msg.ready && s.ready != nil && !s.readyDone {
		s.readyDone = true
		close(s.ready)
	}
}

func describe(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit-code %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}
