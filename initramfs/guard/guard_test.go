package guard

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink the test reads while another goroutine writes it; wrote is closed
// by the first write.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	once  sync.Once
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.once.Do(func() { close(s.wrote) })
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func boom() { panic("boom") }

func TestGoLogsPanicWithStack(t *testing.T) {
	out := newSyncBuffer()
	Go(slog.New(slog.NewTextHandler(out, nil)), "worker", boom)
	<-out.wrote
	got := out.String()
	for _, want := range []string{"level=ERROR", "in=worker", "panic=boom", "guard.boom"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

func TestGoWithoutPanicLogsNothing(t *testing.T) {
	out := newSyncBuffer()
	done := make(chan struct{})
	Go(slog.New(slog.NewTextHandler(out, nil)), "quiet", func() { close(done) })
	<-done
	if out.String() != "" {
		t.Errorf("logged %q", out.String())
	}
}

func TestRecoverCallsAfter(t *testing.T) {
	out := newSyncBuffer()
	var got *Panic
	func() {
		defer Recover(slog.New(slog.NewTextHandler(out, nil)), "job", func(p *Panic) { got = p })
		var m map[string]int
		m["x"] = 1 // a runtime error, not only panic(string)
	}()
	if got == nil || got.Name != "job" || !strings.Contains(got.Error(), "assignment to entry in nil map") {
		t.Fatalf("after got %+v", got)
	}
	if !bytes.Contains(got.Stack, []byte("TestRecoverCallsAfter")) {
		t.Errorf("stack does not show the panicking function:\n%s", got.Stack)
	}
	if !strings.Contains(out.String(), "in=job") {
		t.Errorf("not logged: %q", out.String())
	}
}

func TestCall(t *testing.T) {
	if err := Call("fine", func() {}); err != nil {
		t.Fatalf("no panic: %v", err)
	}
	err := Call("load", boom)
	var p *Panic
	if !errors.As(err, &p) || p.Name != "load" || p.Value != "boom" || err.Error() != "panic in load: boom" {
		t.Fatalf("Call = %v (%#v)", err, p)
	}
	// panic(nil) is a panic too (Go 1.21: *runtime.PanicNilError).
	if err := Call("nil", func() { panic(nil) }); err == nil {
		t.Error("panic(nil) not reported")
	}
}
