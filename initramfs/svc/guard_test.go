package svc

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log sink written by the manager's goroutines and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// helperUnit is a unit running this test binary as SVC_HELPER=mode.
func helperUnit(mode, extra string) string {
	return extra + "\n[Service]\nExecStart=" + os.Args[0] + "\nEnvironment=SVC_HELPER=" + mode + "\n"
}

// TestSupervisorPanic: a panic in one unit's supervisor goroutine fails that unit, logs the
// stack, and leaves the manager answering and the other units running.
func TestSupervisorPanic(t *testing.T) {
	var logs lockedBuffer
	m := newManager(t, map[string]string{
		"boom.service": helperUnit("sleep", ""),
		"fine.service": helperUnit("sleep", ""),
	}, nil, Config{
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Fault: func(unit string) {
			if unit == "boom.service" {
				panic("injected fault")
			}
		},
	})
	done := make(chan Report)
	go func() { done <- m.StartBoot() }()
	var rep Report
	select {
	case rep = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("StartBoot never returned after a supervisor panic")
	}
	if rep.OK != 1 || rep.Total != 2 || strings.Join(rep.Failed, " ") != "boom.service" {
		t.Errorf("report %+v, want fine ok and boom failed", rep)
	}
	st, err := m.Status()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, s := range st {
		got[s.Name] = s
	}
	if s := got["boom.service"]; s.State != Failed || s.Result != "internal error" {
		t.Errorf("boom.service = %s (%s), want failed (internal error)", s.State, s.Result)
	}
	if s := got["fine.service"]; s.State != Running {
		t.Errorf("fine.service = %s (%s), want running", s.State, s.Result)
	}
	out := logs.String()
	for _, want := range []string{"panic recovered", "supervisor of boom.service", "injected fault", "svc.(*Manager).runLoop"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// The failed unit can be started again (the fault fires again) and everything stops.
	if _, err := m.Start("boom.service"); err != nil {
		t.Fatal(err)
	}
	m.StopAll()
}

// TestStopLogsAndFlush: StopAll logs one line per unit as it stops it, dependents first, and
// FlushLogs leaves every line the services wrote in their log files.
func TestStopLogsAndFlush(t *testing.T) {
	var logs lockedBuffer
	dir := t.TempDir()
	m := newManager(t, map[string]string{
		"base.service": helperUnit("sleep", ""),
		"app.service":  helperUnit("sleep", "[Unit]\nAfter=base.service"),
	}, nil, Config{Log: slog.New(slog.NewTextHandler(&logs, nil)), LogDir: dir})
	if rep := m.StartBoot(); rep.OK != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, n := range []string{"base.service", "app.service"} { // wait until each has said hello
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if ls, _ := m.Logs(n); len(ls) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s printed nothing", n)
			}
		}
	}
	m.StopAll()
	if err := m.FlushLogs(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	order := []string{"msg=stopping unit=app.service", "msg=stopped unit=app.service", "msg=stopping unit=base.service", "msg=stopped unit=base.service"}
	last := -1
	for _, l := range order {
		i := strings.Index(out, l)
		if i < 0 || i < last {
			t.Fatalf("want %q in this order, got:\n%s", order, out)
		}
		last = i
	}
	for _, n := range []string{"base.service", "app.service"} {
		b, err := os.ReadFile(filepath.Join(dir, n+".log"))
		if err != nil || string(b) != "hello from "+n+"\n" {
			t.Errorf("%s log = %q, %v", n, b, err)
		}
	}
}
