package svc

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// drain reads the events of sub until want says it has what it waits for.
func drain(t *testing.T, sub *Subscription, want func([]Event) bool) []Event {
	t.Helper()
	var got []Event
	deadline := time.After(10 * time.Second)
	for !want(got) {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("stream ended after %+v", got)
			}
			got = append(got, e)
		case <-deadline:
			t.Fatalf("events so far: %+v", got)
		}
	}
	return got
}

func TestEvents(t *testing.T) {
	e := newEnv(t, map[string]string{
		"s.service":     "sleep\n",
		"gated.service": "sleep\n[Service]\nConsciousnessLevel=0.9",
	})
	sub := e.m.Subscribe()
	defer sub.Cancel()
	if sub.Hello.Kind != "hello" || sub.Hello.Level != "0.5" {
		t.Errorf("hello %+v", sub.Hello)
	}
	e.m.StartBoot()
	e.m.SetLevel(900)
	var lines []string
	drain(t, sub, func(evs []Event) bool {
		lines = lines[:0]
		for _, ev := range evs {
			lines = append(lines, fmt.Sprintf("%s %s %s %s %s", ev.Kind, ev.Unit, ev.State, ev.Result, ev.Level))
		}
		return strings.Contains(strings.Join(lines, "\n"), "unit gated.service running")
	})
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"unit s.service starting", "unit s.service running",
		"unit gated.service inactive level", // skipped at 0.5
		"level    0.9",
		"unit gated.service starting",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if strings.Index(got, "level    0.9") > strings.Index(got, "unit gated.service starting") {
		t.Errorf("the level change comes after the start it causes:\n%s", got)
	}
}

// A subscriber that never reads is dropped once its buffer is full; the publisher never waits.
func TestSlowSubscriberDropped(t *testing.T) {
	e := newEnv(t, map[string]string{
		"a.service": "oneshot\n[Service]\nType=oneshot",
		"b.service": "oneshot\n[Service]\nType=oneshot",
		"c.service": "oneshot\n[Service]\nType=oneshot",
	})
	slow := e.m.SubscribeBuffer(2)
	fast := e.m.Subscribe()
	defer fast.Cancel()
	done := make(chan Report)
	go func() { done <- e.m.StartBoot() }()
	select {
	case rep := <-done:
		if rep.OK != 3 {
			t.Errorf("report %+v", rep)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the start waited for a subscriber")
	}
	select {
	case <-slow.Dropped():
	default:
		t.Fatal("the slow subscriber (2 events of buffer, 6 events) was not dropped")
	}
	n := 0
	for range slow.C { // closed after what it had
		n++
	}
	if n != 2 {
		t.Errorf("slow subscriber kept %d events, want its 2", n)
	}
	slow.Cancel() // harmless after a drop
	evs := drain(t, fast, func(evs []Event) bool { return len(evs) == 6 })
	for _, ev := range evs {
		if ev.Kind != "unit" {
			t.Errorf("event %+v", ev)
		}
	}
}

func TestHistory(t *testing.T) {
	e := newEnv(t, map[string]string{
		"crash.service": "crash\n[Unit]\nStartLimitBurst=3\nStartLimitIntervalSec=10s\n[Service]\nRestart=always\nRestartSec=10ms",
		"s.service":     "sleep\n",
	})
	e.m.StartBoot()
	e.waitState("crash.service", Failed, 5*time.Second)
	h, err := e.m.History("crash.service", "s.service")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Restarts != 2 || len(h[0].Exits) != 3 || len(h[1].Exits) != 0 {
		t.Fatalf("history %+v", h)
	}
	for i, x := range h[0].Exits {
		if x.Code == nil || *x.Code != 3 || x.Result != "exit-code 3" || x.Restart != (i < 2) {
			t.Errorf("exit %d: %+v", i, x)
		}
		if n := len(x.LastLogs); n != 1 || x.LastLogs[0].Text != "crashing now" { // that run's line only
			t.Errorf("exit %d: last lines %+v", i, x.LastLogs)
		}
	}
	if _, err := e.m.History("nope.service"); err == nil {
		t.Error("history of an unknown unit")
	}
	// Bounded: the oldest exits go.
	s := e.m.svcs["s.service"]
	for i := range historyExits + 5 {
		s.ring.add(LogLine{At: e.m.cfg.Clock(), Text: strings.Repeat("x", 1000)})
		e.m.recordExit(s, fmt.Sprintf("signal SIGSEGV %d", i), true)
	}
	h, _ = e.m.History("s.service")
	x := h[0].Exits
	if len(x) != historyExits || x[0].Result != "signal SIGSEGV 5" || x[0].Signal != "SIGSEGV" || x[0].Code != nil ||
		len(x[0].LastLogs) != historyLines || len(x[0].LastLogs[0].Text) > historyLineBytes+len("…") {
		t.Errorf("bounded history: %d exits, first %+v", len(x), x[0])
	}
}
