package svc

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/reaper"
	"github.com/genai-os/genai-build/initramfs/sandbox"
	"github.com/genai-os/genai-build/initramfs/unit"
)

// The test binary doubles as the services under test: SVC_HELPER picks a
// behaviour. Every helper writes "<event> <unix-nanos>" lines to $RECORD.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == SocketExecName { // as the init's applet does
		fmt.Fprintln(os.Stderr, ExecListen(os.Args[1:]))
		os.Exit(127)
	}
	if filepath.Base(os.Args[0]) == sandbox.ExecName { // as the init's applet does
		fmt.Fprintln(os.Stderr, sandbox.Exec(os.Args[1:]))
		os.Exit(127)
	}
	if mode := os.Getenv("SVC_HELPER"); mode != "" {
		helper(mode)
		os.Exit(0)
	}
	testReaper = reaper.New(nil)
	go testReaper.Run()
	os.Exit(m.Run())
}

var testReaper *reaper.Reaper

func record(event string) {
	if p := os.Getenv("RECORD"); p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %d\n", event, time.Now().UnixNano())
			f.Close()
		}
	}
}

func helper(mode string) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	if mode == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	}
	record("start") // after the handlers: tests wait for this before signalling
	hold, _ := strconv.Atoi(os.Getenv("HOLD_MS"))
	switch mode {
	case "oneshot":
		time.Sleep(time.Duration(hold) * time.Millisecond)
		record("end")
		return
	case "crash":
		fmt.Println("crashing now")
		os.Exit(3)
	case "notify":
		time.Sleep(time.Duration(hold) * time.Millisecond)
		if os.Getenv("NO_READY") == "" {
			c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
			if err != nil {
				fmt.Println("dial:", err)
				os.Exit(9)
			}
			c.Write([]byte("READY=1\nSTATUS=serving level " + os.Getenv("CONSCIOUSNESS_LEVEL")))
			c.Close()
		}
	case "listen": // a socket-activated daemon (sd_listen_fds): serves one connection, then exits
		if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") != "1" {
			fmt.Println("bad LISTEN_PID/LISTEN_FDS", os.Getenv("LISTEN_PID"), os.Getpid(), os.Getenv("LISTEN_FDS"))
			os.Exit(2)
		}
		l, err := net.FileListener(os.NewFile(3, "listen"))
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		c, err := l.Accept()
		if err != nil {
			fmt.Println(err)
			os.Exit(4)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "%d %s: %s", os.Getpid(), os.Getenv("LISTEN_FDNAMES"), line)
		c.Close()
		record("end")
		return
	case "echo": // an inetd-style service: one line in, one line out
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		fmt.Print("echo: " + line)
		fmt.Fprintln(os.Stderr, "served", os.Getenv("CONSCIOUSNESS_UNIT"))
		record("end")
		return
	case "ignore-term":
		for {
			time.Sleep(time.Hour)
		}
	}
	fmt.Println("hello from", os.Getenv("CONSCIOUSNESS_UNIT"))
	for s := range sigs {
		if s == syscall.SIGHUP {
			fmt.Println("reloaded")
			continue
		}
		record("stop")
		os.Exit(0)
	}
}

type env struct {
	t   *testing.T
	dir string
	m   *Manager
	t0  time.Time
	log *syncBuffer // what the manager logged
}

// syncBuffer is a bytes.Buffer the manager's goroutines may log to while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv parses units given as name -> body (the ExecStart line is added:
// the helper in the given mode) and makes a Manager at level 0.5.
func newEnv(t *testing.T, units map[string]string) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "svc") // short: NOTIFY_SOCKET paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var us []*unit.Unit
	for name, body := range units {
		mode, rest, _ := strings.Cut(body, "\n")
		text := rest + "\n[Service]\nExecStart=" + os.Args[0] + "\nEnvironment=SVC_HELPER=" + mode +
			" RECORD=" + filepath.Join(dir, name+".rec") + "\n"
		u, diags, err := unit.Parse(name, name, strings.NewReader(text))
		if err != nil || len(diags) > 0 {
			t.Fatalf("%s: %v %v\n%s", name, err, diags, text)
		}
		us = append(us, u)
	}
	t0 := time.Now()
	logs := &syncBuffer{}
	m, msgs, err := New(Config{
		Units: us, Level: 500, Spawner: testReaper, Clock: func() time.Duration { return time.Since(t0) },
		RunDir: dir, LogDir: filepath.Join(dir, "log"), Env: []string{"PATH=/usr/bin:/bin"},
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) > 0 {
		t.Logf("manager: %v", msgs)
	}
	t.Cleanup(func() { m.StopAll(); m.Close() })
	return &env{t, dir, m, t0, logs}
}

// events reads a unit's record: event -> times.
func (e *env) events(name string) map[string][]int64 {
	b, _ := os.ReadFile(filepath.Join(e.dir, name+".rec"))
	out := map[string][]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if ev, ts, ok := strings.Cut(l, " "); ok {
			n, _ := strconv.ParseInt(ts, 10, 64)
			out[ev] = append(out[ev], n)
		}
	}
	return out
}

func (e *env) waitEvent(name, event string) {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(e.events(name)[event]) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: no %s event", name, event)
		}
	}
}

func (e *env) status(name string) Status {
	st, err := e.m.Status(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return st[0]
}

func (e *env) waitState(name string, want State, within time.Duration) Status {
	deadline := time.Now().Add(within)
	for {
		st := e.status(name)
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: state %s (%s), want %s", name, st.State, st.Result, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOrderAndParallel(t *testing.T) {
	e := newEnv(t, map[string]string{
		"a.service": "oneshot\n[Service]\nType=oneshot\nEnvironment=HOLD_MS=150",
		"b.service": "oneshot\n[Unit]\nAfter=a.service\n[Service]\nType=oneshot",
		"c.service": "oneshot\n[Service]\nType=oneshot\nEnvironment=HOLD_MS=150",
		"d.service": "sleep\n[Unit]\nWants=b.service\n[Install]\nWantedBy=other.target",
	})
	rep := e.m.StartBoot()
	if rep.OK != 3 || rep.Total != 3 || len(rep.Failed) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if st := e.status("d.service"); st.State != Inactive || st.Boot {
		t.Errorf("d (not wanted at boot) = %+v", st)
	}
	a, b, c := e.events("a.service"), e.events("b.service"), e.events("c.service")
	if b["start"][0] < a["end"][0] {
		t.Errorf("b started before a ended")
	}
	if c["start"][0] > a["end"][0] || a["start"][0] > c["end"][0] {
		t.Errorf("a and c did not overlap: a %v c %v", a, c)
	}
	if st := e.status("a.service"); st.State != Exited || st.ReadyMs < st.StartedMs+100 {
		t.Errorf("a = %+v", st)
	}
	// Starting d pulls in b (already exited: not run again).
	if rep, err := e.m.Start("d.service"); err != nil || rep.OK != 2 {
		t.Errorf("start d: %+v %v", rep, err)
	}
	if n := len(e.events("b.service")["start"]); n != 1 {
		t.Errorf("b ran %d times", n)
	}
}

func TestNotifyReadiness(t *testing.T) {
	e := newEnv(t, map[string]string{
		"n.service":    "notify\n[Service]\nType=notify\nEnvironment=HOLD_MS=200",
		"late.service": "notify\n[Service]\nType=notify\nTimeoutStartSec=300ms\nEnvironment=NO_READY=1",
		"dep.service":  "oneshot\n[Unit]\nAfter=n.service\n[Service]\nType=oneshot",
	})
	rep := e.m.StartBoot()
	if rep.OK != 2 || rep.Total != 3 || len(rep.Failed) != 1 || rep.Failed[0] != "late.service" {
		t.Fatalf("report %+v", rep)
	}
	st := e.status("n.service")
	if st.State != Running || st.StatusText != "serving level 0.5" || st.ReadyMs-st.StartedMs < 150 || st.PID == 0 {
		t.Errorf("n = %+v", st)
	}
	if e.events("dep.service")["start"][0] < e.events("n.service")["start"][0]+150e6 {
		t.Errorf("dep started before n was ready")
	}
	if st := e.status("late.service"); st.State != Failed || st.Result != "timeout" {
		t.Errorf("late = %+v", st)
	}
}

func TestRestartBurst(t *testing.T) {
	e := newEnv(t, map[string]string{
		"crash.service": "crash\n[Unit]\nStartLimitBurst=3\nStartLimitIntervalSec=10s\n[Service]\nRestart=always\nRestartSec=100ms",
	})
	e.m.StartBoot()
	st := e.waitState("crash.service", Failed, 5*time.Second)
	if st.Restarts != 2 || !strings.HasPrefix(st.Result, "start-limit-hit") {
		t.Errorf("crash = %+v", st)
	}
	if n := len(e.events("crash.service")["start"]); n != 3 {
		t.Errorf("started %d times, want 3", n)
	}
	// The delays the manager chose, not the gaps between starts: under load an exec alone can
	// take longer than the first delay.
	var delays []string
	for _, m := range regexp.MustCompile(`service restarting.*delay_ms=([0-9]+)`).FindAllStringSubmatch(e.log.String(), -1) {
		delays = append(delays, m[1])
	}
	if got := strings.Join(delays, " "); got != "100 200" {
		t.Errorf("restart delays %q ms, want 100 then 200 (doubling from RestartSec)", got)
	}
	lines, _ := e.m.Logs("crash.service")
	if len(lines) != 3 || lines[0].Text != "crashing now" {
		t.Errorf("logs %+v", lines)
	}
	// A manual start resets the burst.
	e.m.Start("crash.service")
	e.waitState("crash.service", Failed, 5*time.Second)
	if n := len(e.events("crash.service")["start"]); n != 6 {
		t.Errorf("after a manual start: %d starts, want 6", n)
	}
}

func TestRestartOnFailureOnly(t *testing.T) {
	e := newEnv(t, map[string]string{
		"ok.service": "oneshot\n[Service]\nRestart=on-failure\nRestartSec=10ms",
	})
	e.m.StartBoot()
	st := e.waitState("ok.service", Inactive, 5*time.Second)
	// An absence has no event to wait for: a restart would come RestartSec (10 ms) after the exit,
	// so ten times that without one shows there is none.
	time.Sleep(100 * time.Millisecond)
	if n := len(e.events("ok.service")["start"]); n != 1 || st.Restarts != 0 {
		t.Errorf("clean exit restarted: %d starts, %+v", n, st)
	}
}

func TestStopOrderAndTimeout(t *testing.T) {
	e := newEnv(t, map[string]string{
		"a.service":    "sleep\n",
		"b.service":    "sleep\n[Unit]\nAfter=a.service",
		"c.service":    "sleep\n[Unit]\nBefore=a.service",
		"deaf.service": "ignore-term\n[Service]\nTimeoutStopSec=300ms",
	})
	if rep := e.m.StartBoot(); rep.OK != 4 {
		t.Fatalf("report %+v", rep)
	}
	for _, n := range []string{"a.service", "b.service", "c.service", "deaf.service"} {
		e.waitEvent(n, "start")
	}
	t0 := time.Now()
	e.m.StopAll()
	took := time.Since(t0)
	a, b, c := e.events("a.service")["stop"], e.events("b.service")["stop"], e.events("c.service")["stop"]
	if len(a) != 1 || len(b) != 1 || len(c) != 1 || !(b[0] < a[0] && a[0] < c[0]) {
		t.Errorf("stop order b < a < c violated: a %v b %v c %v", a, b, c)
	}
	if took < 300*time.Millisecond || took > 8*time.Second { // loose: a -race helper sleeps 1 s at exit (GORACE atexit_sleep_ms)
		t.Errorf("StopAll took %v, want about TimeoutStopSec", took)
	}
	for _, n := range []string{"a.service", "deaf.service"} {
		if st := e.status(n); st.State != Inactive || st.Result != "stopped" {
			t.Errorf("%s = %+v", n, st)
		}
	}
}

func TestLevelGating(t *testing.T) {
	e := newEnv(t, map[string]string{
		"low.service":  "sleep\n[Service]\nConsciousnessLevel=0.2",
		"high.service": "sleep\n[Service]\nConsciousnessLevel=0.8\nAIIntegration=enabled",
	})
	rep := e.m.StartBoot()
	if rep.OK != 1 || rep.Total != 1 || len(rep.Skipped) != 1 || rep.Skipped[0] != "high.service" {
		t.Fatalf("report %+v", rep)
	}
	if st := e.status("high.service"); st.State != Inactive || st.Result != "level" || st.Level != "0.8" {
		t.Errorf("high = %+v", st)
	}
	rep = e.m.SetLevel(900)
	if rep.OK != 1 || e.status("high.service").State != Running {
		t.Errorf("after raise: %+v %+v", rep, e.status("high.service"))
	}
	e.m.SetLevel(bootconf.Level(500))
	if st := e.status("high.service"); st.State != Inactive || st.Result != "level" {
		t.Errorf("after lower: %+v", st)
	}
	if e.status("low.service").State != Running {
		t.Errorf("low stopped")
	}
}

// TestConditionPathExists: a unit whose condition does not hold is skipped (inactive, not a
// failure, not counted), and so is its dependent with the same condition; one that holds starts.
func TestConditionPathExists(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "no-autologin")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, map[string]string{
		"session.service": "sleep\n[Unit]\nConditionPathExists=!" + marker,
		"ready.service":   "sleep\n[Unit]\nRequires=session.service\nAfter=session.service\nConditionPathExists=!" + marker,
		"login.service":   "sleep\n[Unit]\nConditionPathExists=" + marker + "\nConditionPathExists=" + dir,
	})
	rep := e.m.StartBoot()
	if rep.OK != 1 || rep.Total != 1 || !reflect.DeepEqual(rep.Skipped, []string{"ready.service", "session.service"}) {
		t.Fatalf("report %+v, want login up and the two others skipped", rep)
	}
	if st := e.status("session.service"); st.State != Inactive || st.Result != "condition ConditionPathExists=!"+marker {
		t.Errorf("session = %+v", st)
	}
	if st := e.status("login.service"); st.State != Running {
		t.Errorf("login = %+v", st)
	}
}

func TestRequiresFailed(t *testing.T) {
	e := newEnv(t, map[string]string{
		"db.service":  "crash\n[Service]\nType=oneshot",
		"app.service": "sleep\n[Unit]\nRequires=db.service\nAfter=db.service",
		"web.service": "sleep\n[Unit]\nWants=db.service\nAfter=db.service",
		"x.service":   "sleep\n[Unit]\nRequires=nothere.service",
	})
	rep := e.m.StartBoot()
	if rep.OK != 1 || rep.Total != 4 {
		t.Errorf("report %+v", rep)
	}
	if st := e.status("app.service"); st.State != Failed || st.Result != "dependency failed: db.service" {
		t.Errorf("app = %+v", st)
	}
	if st := e.status("x.service"); st.State != Failed || !strings.Contains(st.Result, "nothere.service") {
		t.Errorf("x = %+v", st)
	}
	if st := e.status("web.service"); st.State != Running {
		t.Errorf("web = %+v", st)
	}
}

func TestLogsAndReload(t *testing.T) {
	e := newEnv(t, map[string]string{
		"r.service": "sleep\n[Service]\nExecReload=/bin/kill -HUP $MAINPID",
	})
	e.m.StartBoot()
	e.waitEvent("r.service", "start")
	_, ch, cancel, err := e.m.Follow("r.service")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := e.m.Reload("r.service"); err != nil {
		t.Fatal(err)
	}
	for got := ""; got != "reloaded"; {
		select {
		case l := <-ch:
			got = l.Text
		case <-time.After(3 * time.Second):
			t.Fatal("no reload line")
		}
	}
	lines, _ := e.m.Logs("r.service")
	if len(lines) != 2 || lines[0].Text != "hello from r.service" {
		t.Errorf("ring %+v", lines)
	}
	b, err := os.ReadFile(filepath.Join(e.dir, "log", "r.service.log"))
	if err != nil || string(b) != "hello from r.service\nreloaded\n" {
		t.Errorf("log file %q %v", b, err)
	}
	if err := e.m.Reload("nope.service"); err == nil {
		t.Error("reload of unknown unit")
	}
}

func TestRing(t *testing.T) {
	r := newRing(100)
	for i := 0; i < 50; i++ {
		r.add(LogLine{Text: fmt.Sprint("line ", i)})
	}
	got := r.snapshot()
	if len(got) == 0 || len(got) > 5 || got[len(got)-1].Text != "line 49" {
		t.Errorf("ring kept %d lines: %+v", len(got), got)
	}
}

func TestParseNotify(t *testing.T) {
	m := parseNotify(7, []byte("READY=1\nSTATUS=a=b\nMAINPID=42\nBOGUS"))
	if !m.ready || m.status != "a=b" || !m.hasStat || m.mainPID != 42 || m.pid != 7 {
		t.Errorf("%+v", m)
	}
}

// BenchmarkStartBoot starts 100 trivial oneshot units (the host's true(1)): the manager's own cost
// per service, beside fork and exec. `make bench` measures the same in QEMU.
func BenchmarkStartBoot(b *testing.B) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true(1)")
	}
	var us []*unit.Unit
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("trivial-%03d.service", i)
		u, _, err := unit.Parse(name, name, strings.NewReader("[Service]\nType=oneshot\nExecStart="+truePath+"\n"))
		if err != nil {
			b.Fatal(err)
		}
		us = append(us, u)
	}
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		m, _, err := New(Config{Units: us, Level: 500, Spawner: testReaper, Clock: func() time.Duration { return time.Since(t0) },
			RunDir: dir, LogDir: filepath.Join(dir, "log")})
		if err != nil {
			b.Fatal(err)
		}
		if rep := m.StartBoot(); rep.OK != 100 {
			b.Fatalf("started %d/100: %v", rep.OK, rep.Failed)
		}
		m.Close()
	}
}
