package svc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/guard"
	"github.com/genai-os/genai-build/initramfs/reaper"
	"github.com/genai-os/genai-build/initramfs/sandbox"
	"github.com/genai-os/genai-build/initramfs/unit"
	"golang.org/x/sys/unix"
)

const maxRestartDelay = 30 * time.Second

// errStopped: a stop was requested while a command ran.
var errStopped = errors.New("stopped")

// runLoop owns the processes of s from start until it is stopped, fails for
// good, or ends without a restart.
func (m *Manager) runLoop(s *service, r *runner) {
	defer func() {
		m.mu.Lock()
		if s.run == r {
			s.run = nil
		}
		m.mu.Unlock()
		close(r.done)
	}()
	// A bug here must not take PID 1 down: the unit fails, the others and the manager go on.
	defer guard.Recover(m.log, "supervisor of "+s.u.Name, func(*guard.Panic) { m.setState(s, Failed, "internal error") })
	if m.cfg.Fault != nil {
		m.cfg.Fault(s.u.Name)
	}
	u := s.u
	switch u.Type {
	case unit.Socket:
		m.serveSocket(s, r)
		return
	case unit.Target:
		m.awaitTarget(s, r)
		return
	}
	quick := 0 // consecutive runs that ended quickly, for the backoff
	for {
		began := m.cfg.Clock()
		ok, result := m.attempt(s, r)
		if result == errStopped.Error() {
			m.setState(s, Inactive, "stopped")
			return
		}
		if u.Type == unit.Oneshot && ok {
			return // attempt left it Exited
		}
		if !(u.Restart == unit.RestartAlways || u.Restart == unit.RestartOnFailure && !ok) {
			m.recordExit(s, result, false)
			if ok {
				m.setState(s, Inactive, result)
			} else {
				m.setState(s, Failed, result)
			}
			return
		}
		now := m.cfg.Clock()
		m.mu.Lock()
		kept := s.starts[:0]
		for _, t := range s.starts {
			if u.StartLimitInterval == 0 || now-t < u.StartLimitInterval {
				kept = append(kept, t)
			}
		}
		s.starts = kept
		limited := u.StartLimitBurst > 0 && len(s.starts) >= u.StartLimitBurst
		m.mu.Unlock()
		m.recordExit(s, result, !limited)
		if limited {
			m.log.Warn("service crash-looping, giving up", "service", u.Name, "starts", len(kept),
				"within", u.StartLimitInterval.String(), "last", result)
			m.setState(s, Failed, "start-limit-hit ("+result+")")
			return
		}
		if now-began > 10*time.Second {
			quick = 0
		} else {
			quick++
		}
		delay := u.RestartSec
		for i := 1; i < quick && delay < maxRestartDelay; i++ {
			delay *= 2
		}
		delay = min(delay, maxRestartDelay)
		m.mu.Lock()
		s.restarts++
		m.setStateLocked(s, Restarting, result)
		m.mu.Unlock()
		m.log.Info("service restarting", "service", u.Name, "after", result, "delay_ms", delay.Milliseconds())
		select {
		case <-time.After(delay):
		case <-r.stop:
			m.setState(s, Inactive, "stopped")
			return
		}
	}
}

// awaitTarget waits until the target s is reached (Running) or cannot be (Failed), or a stop.
func (m *Manager) awaitTarget(s *service, r *runner) {
	now := m.cfg.Clock()
	m.mu.Lock()
	s.startedAt, s.readyAt = now, 0
	m.mu.Unlock()
	select {
	case <-s.reached:
	case <-r.stop:
		m.setState(s, Inactive, "stopped")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.reachedOK {
		m.setStateLocked(s, Failed, "not reached")
		return
	}
	s.readyAt = m.cfg.Clock()
	m.setStateLocked(s, Running, "")
	// Running until stopped; a stop of a reached target only marks it inactive.
	m.mu.Unlock()
	<-r.stop
	m.mu.Lock()
	m.setStateLocked(s, Inactive, "stopped")
}

// attempt runs s once: ExecStartPre=, then ExecStart= until it exits or a stop
// is requested. ok is whether it ended well; result says how it ended.
func (m *Manager) attempt(s *service, r *runner) (ok bool, result string) {
	u := s.u
	now := m.cfg.Clock()
	m.mu.Lock()
	s.starts = append(s.starts, now)
	s.startedAt, s.readyAt = now, 0
	s.pid, s.pgid, s.mainPID, s.status = 0, 0, 0, ""
	s.ready, s.readyDone = make(chan struct{}), false
	m.setStateLocked(s, Starting, "")
	m.mu.Unlock()

	env, cred, err := m.environment(s)
	if err != nil {
		m.log.Warn("service setup", "service", u.Name, "err", err)
		return false, "resources: " + err.Error()
	}
	if err := m.runtimeDirs(u, cred); err != nil {
		m.log.Warn("service setup", "service", u.Name, "err", err)
		return false, "resources: " + err.Error()
	}
	for _, c := range u.ExecStartPre {
		ws, _, err := m.runSync(s, c, env, cred, u.TimeoutStartSec, r.stop)
		if errors.Is(err, errStopped) {
			return false, errStopped.Error()
		}
		if err != nil {
			return false, "exec-start-pre: " + err.Error()
		}
		if !success(ws, c) {
			return false, "exec-start-pre: " + describe(ws)
		}
	}
	if u.Type == unit.Oneshot {
		for _, c := range u.ExecStart {
			ws, _, err := m.runSync(s, c, env, cred, u.TimeoutStartSec, r.stop)
			if errors.Is(err, errStopped) {
				return false, errStopped.Error()
			}
			if err != nil {
				return false, err.Error()
			}
			if !success(ws, c) {
				return false, describe(ws)
			}
		}
		m.mu.Lock()
		s.readyAt = m.cfg.Clock()
		m.setStateLocked(s, Exited, "success")
		m.mu.Unlock()
		return true, "success"
	}

	c := u.ExecStart[0]
	pid, exit, err := m.spawnMain(s, c, env, cred)
	if err != nil {
		m.log.Warn("service exec", "service", u.Name, "err", err)
		return false, "exec: " + err.Error()
	}
	m.mu.Lock()
	s.pid, s.pgid = pid, pid
	ready := s.ready
	m.mu.Unlock()

	var nc *net.UnixConn // made by environment for a notify unit
	if u.Type == unit.Notify {
		nc, _ = m.notifyConn()
	}
	if nc != nil {
		var timeout <-chan time.Time
		if u.TimeoutStartSec > 0 {
			t := time.NewTimer(u.TimeoutStartSec)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ready:
		case e := <-exit:
			m.killRest(s)
			return false, "exited before READY=1: " + describe(e.Status)
		case <-timeout:
			m.log.Warn("service start timed out", "service", u.Name, "timeout", u.TimeoutStartSec.String())
			m.stopProc(s, pid, exit, env, cred)
			return false, "timeout"
		case <-r.stop:
			m.stopProc(s, pid, exit, env, cred)
			return false, errStopped.Error()
		}
	}
	m.mu.Lock()
	s.readyAt = m.cfg.Clock()
	m.setStateLocked(s, Running, "")
	m.mu.Unlock()

	select {
	case e := <-exit:
		m.killRest(s)
		return success(e.Status, c) || cleanSignal(e.Status), describe(e.Status)
	case <-r.stop:
		m.stopProc(s, pid, exit, env, cred)
		return false, errStopped.Error()
	}
}

// runtimeDirs makes the unit's RuntimeDirectory= folders under /run, owned by its user.
func (m *Manager) runtimeDirs(u *unit.Unit, cred *syscall.Credential) error {
	for _, d := range u.RuntimeDirectory {
		p := filepath.Join(m.cfg.Root, "run", d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("RuntimeDirectory: %w", err)
		}
		if cred != nil {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("RuntimeDirectory: %w", err)
			}
		}
	}
	return nil
}

func success(ws syscall.WaitStatus, c unit.Command) bool {
	return ws.Exited() && (ws.ExitStatus() == 0 || c.IgnoreFailure)
}

// cleanSignal: systemd counts death by SIGHUP, SIGINT, SIGTERM or SIGPIPE as a
// clean exit (systemd.service(5), SuccessExitStatus=).
func cleanSignal(ws syscall.WaitStatus) bool {
	if !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE:
		return true
	}
	return false
}

// stopProc stops the main process: ExecStop= (if any), then SIGTERM to the
// group, then SIGKILL after TimeoutStopSec.
func (m *Manager) stopProc(s *service, pid int, exit <-chan reaper.Exit, env []string, cred *syscall.Credential) {
	u := s.u
	m.setState(s, Stopping, "")
	deadline := time.Now().Add(u.TimeoutStopSec)
	for _, c := range u.ExecStop {
		left := time.Until(deadline)
		if u.TimeoutStopSec == 0 {
			left = 0
		} else if left <= 0 {
			break
		}
		m.runSync(s, c, withVar(env, "MAINPID", strconv.Itoa(m.mainPID(s, pid))), cred, left, nil)
	}
	m.signal(s, pid, syscall.SIGTERM)
	m.signal(s, pid, syscall.SIGCONT)
	var timeout <-chan time.Time
	if u.TimeoutStopSec > 0 {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-exit:
		m.killRest(s)
		return
	case <-timeout:
		m.log.Warn("service did not stop in time, killing", "service", u.Name, "timeout", u.TimeoutStopSec.String())
	}
	m.signal(s, pid, syscall.SIGKILL)
	m.killCgroup(s)
	select {
	case <-exit:
	case <-time.After(5 * time.Second): // stuck in the kernel (D state): give up waiting
		m.log.Error("service survived SIGKILL", "service", u.Name, "pid", pid)
	}
}

func (m *Manager) mainPID(s *service, pid int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.mainPID != 0 {
		return s.mainPID
	}
	return pid
}

// signal sends sig to the process group of pid (every service is a group
// leader), and to the MAINPID if the service named another one.
func (m *Manager) signal(s *service, pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
	if mp := m.mainPID(s, pid); mp != pid {
		_ = syscall.Kill(mp, sig)
	}
}

// killRest kills what the service left behind once its main process is gone
// (systemd's KillMode=control-group).
func (m *Manager) killRest(s *service) {
	m.mu.Lock()
	pg := s.pgid
	m.mu.Unlock()
	if pg > 0 {
		_ = syscall.Kill(-pg, syscall.SIGKILL)
	}
	m.killCgroup(s)
}

// killCgroup writes cgroup.kill (Documentation/admin-guide/cgroup-v2.rst, Linux 5.14).
func (m *Manager) killCgroup(s *service) {
	if s.cg != "" {
		_ = os.WriteFile(filepath.Join(s.cg, "cgroup.kill"), []byte("1"), 0)
	}
}

// runSync runs a command of s to its end, or kills it after timeout (0: none)
// or when stop closes.
func (m *Manager) runSync(s *service, c unit.Command, env []string, cred *syscall.Credential, timeout time.Duration, stop <-chan struct{}) (syscall.WaitStatus, int, error) {
	pid, exit, err := m.spawn(s, c, env, cred)
	if err != nil {
		return 0, 0, err
	}
	var to <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		to = t.C
	}
	select {
	case e := <-exit:
		return e.Status, pid, nil
	case <-to:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		e := <-exit
		return e.Status, pid, fmt.Errorf("%s: timeout after %v", c.Argv[0], timeout)
	case <-stop:
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-exit:
		case <-time.After(s.u.TimeoutStopSec + time.Millisecond):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exit
		}
		return 0, pid, errStopped
	}
}

// spawn starts one command of s in its own process group (and cgroup), with
// stdin on /dev/null and stdout and stderr into the service's log (or /dev/null,
// as StandardOutput= and StandardError= say).
func (m *Manager) spawn(s *service, c unit.Command, env []string, cred *syscall.Credential) (int, <-chan reaper.Exit, error) {
	return m.spawnWith(s, c, env, cred, nil, nil, "")
}

// spawnMain is spawn for the main process of s: if an Accept=no socket activates s, it gets that
// socket's listening descriptors from fd 3 on, with LISTEN_FDS, LISTEN_FDNAMES and (set by the
// SocketExec program) LISTEN_PID, as sd_listen_fds(3) reads them.
func (m *Manager) spawnMain(s *service, c unit.Command, env []string, cred *syscall.Credential) (int, <-chan reaper.Exit, error) {
	var fds []int
	var name string
	m.mu.Lock()
	if sock := s.socket; sock != nil && m.cfg.SocketExec != "" {
		name = sock.u.Name
		for _, fd := range sock.fds { // copies: the socket may close its own meanwhile
			if d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3); err == nil {
				fds = append(fds, d)
			}
		}
	}
	m.mu.Unlock()
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	return m.spawnWith(s, c, env, cred, nil, fds, name)
}

// spawnConn is spawn for an instance of an Accept=yes socket: conn is the connection, for the
// streams that StandardInput/Output/Error= set to socket.
func (m *Manager) spawnConn(s *service, c unit.Command, env []string, cred *syscall.Credential, conn *os.File) (int, <-chan reaper.Exit, error) {
	return m.spawnWith(s, c, env, cred, conn, nil, "")
}

// spawnWith starts c for s with conn (or nil) for socket streams and listen (or none) as
// descriptors 3 and on, named after the socket unit sockName.
func (m *Manager) spawnWith(s *service, c unit.Command, env []string, cred *syscall.Credential, conn *os.File, listen []int, sockName string) (int, <-chan reaper.Exit, error) {
	argv := c.Argv
	if !c.NoEnvExpand {
		argv = unit.Expand(argv, env)
	}
	if len(argv) == 0 || argv[0] == "" {
		return 0, nil, errors.New("empty command after expansion")
	}
	path := argv[0]
	argv = append([]string(nil), argv...)
	if c.Argv0 != "" {
		argv[0] = c.Argv0
	}
	if len(listen) > 0 {
		names := make([]string, len(listen))
		for i := range names {
			names[i] = sockName
		}
		env = withVar(withVar(env, "LISTEN_FDS", strconv.Itoa(len(listen))), "LISTEN_FDNAMES", strings.Join(names, ":"))
		argv = append([]string{SocketExecName, path}, argv...)
		path = m.cfg.SocketExec
	}
	dir := s.u.WorkingDirectory
	if dir == "" {
		dir = "/"
	}
	sysAttr := &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if c.FullPrivilege { // "+": as root, outside User= and the sandbox (systemd.service(5))
		sysAttr.Credential = nil
	}
	if sb := s.u.Sandbox; sb.Active() && !c.FullPrivilege {
		// Through the helper, which switches to the user itself once it has done what needs root.
		if m.cfg.SandboxExec == "" {
			return 0, nil, errors.New("the unit has sandbox keys and the manager no sandbox helper")
		}
		spec := sandbox.Spec{Sandbox: sb, Dir: dir}
		if cred != nil {
			spec.Cred = &sandbox.Cred{Uid: cred.Uid, Gid: cred.Gid, Groups: cred.Groups}
			sysAttr.Credential = nil
		}
		for _, d := range s.u.RuntimeDirectory {
			spec.Writable = append(spec.Writable, filepath.Join("/run", d))
		}
		args, err := sandbox.Args(spec, path, argv)
		if err != nil {
			return 0, nil, err
		}
		path, argv = m.cfg.SandboxExec, append([]string{sandbox.ExecName}, args...)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, err
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	defer pw.Close()
	fd := func(k unit.Stdio) uintptr {
		switch {
		case k == unit.StdSocket && conn != nil:
			return conn.Fd()
		case k == unit.StdJournal:
			return pw.Fd()
		}
		return null.Fd()
	}
	in, out, errOut := s.u.Streams()
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: append([]uintptr{fd(in), fd(out), fd(errOut)}, uintptrs(listen)...),
		Sys:   sysAttr,
	}
	limited := s.u.MemoryMax != nil || s.u.TasksMax != nil
	if limited && s.cg == "" {
		pr.Close()
		return 0, nil, errors.New("MemoryMax= and TasksMax= need a cgroup2 hierarchy, and there is none")
	}
	if s.cg != "" {
		if err := os.MkdirAll(s.cg, 0o755); err == nil {
			if limited {
				if err := m.writeLimits(s); err != nil {
					pr.Close()
					return 0, nil, err
				}
			}
			if fd, err := unix.Open(s.cg, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
				defer unix.Close(fd)
				attr.Sys.UseCgroupFD, attr.Sys.CgroupFD = true, fd
			}
		}
	}
	pid, exit, err := m.cfg.Spawner.Start(path, argv, attr)
	if err != nil && attr.Sys.UseCgroupFD && !limited {
		// CLONE_INTO_CGROUP needs Linux 5.7 and cgroup2: fall back to the process group.
		m.log.Debug("starting without a cgroup", "service", s.u.Name, "err", err)
		attr.Sys.UseCgroupFD = false
		pid, exit, err = m.cfg.Spawner.Start(path, argv, attr)
	}
	if err != nil {
		pr.Close()
		return 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	m.pumps.Add(1)
	drained := make(chan struct{})
	m.mu.Lock()
	s.outDone = drained
	m.mu.Unlock()
	m.goSafe("output of "+s.u.Name, func() {
		defer m.pumps.Done()
		defer close(drained)
		pump(pr, s.ring, s.lf, m.cfg.Clock)
	})
	return pid, exit, nil
}

// environment is the environment and credentials of s: the base, the
// level, NOTIFY_SOCKET, the AI endpoint, the user's, EnvironmentFile= and
// Environment=, later entries winning.
func (m *Manager) environment(s *service) ([]string, *syscall.Credential, error) {
	u := s.u
	cred, userEnv, err := credential(m.cfg.Root, u.User, u.Group)
	if err != nil {
		return nil, nil, err
	}
	env := append([]string(nil), m.cfg.Env...)
	env = append(env, "CONSCIOUSNESS_LEVEL="+m.Level().String(), "CONSCIOUSNESS_UNIT="+u.Name)
	if u.Type == unit.Notify {
		nc, err := m.notifyConn()
		if err != nil {
			return nil, nil, err
		}
		if nc != nil {
			env = append(env, "NOTIFY_SOCKET="+nc.LocalAddr().String())
		}
	}
	if u.AIIntegration {
		env = append(env, m.cfg.AIEnv...)
	}
	env = append(env, userEnv...)
	for _, f := range u.EnvironmentFile {
		optional := strings.HasPrefix(f, "-")
		f = strings.TrimPrefix(f, "-")
		file, err := os.Open(f)
		if err != nil {
			if optional {
				continue
			}
			return nil, nil, fmt.Errorf("EnvironmentFile: %w", err)
		}
		env = append(env, unit.ParseEnvFile(file)...)
		file.Close()
	}
	env = append(env, u.Environment...)
	m.mu.Lock()
	if mp := s.pid; mp != 0 || s.mainPID != 0 {
		if s.mainPID != 0 {
			mp = s.mainPID
		}
		env = append(env, "MAINPID="+strconv.Itoa(mp))
	}
	m.mu.Unlock()
	return dedupe(env), cred, nil
}

func withVar(env []string, k, v string) []string {
	return dedupe(append(append([]string(nil), env...), k+"="+v))
}

// dedupe keeps the last value of each key, in first-seen order.
func dedupe(env []string) []string {
	idx := map[string]int{}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func uintptrs(fds []int) []uintptr {
	out := make([]uintptr, len(fds))
	for i, fd := range fds {
		out[i] = uintptr(fd)
	}
	return out
}
