package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/reaper"
	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/genai-os/genai-build/initramfs/unit"
)

// realServer runs a real svc.Manager over real processes (/bin/sleep, /bin/sh) behind a Server.
func realServer(t *testing.T, units map[string]string) (*svc.Manager, string) {
	t.Helper()
	rp := reaper.New(nil)
	go rp.Run()
	t.Cleanup(rp.Close) // registered first, so it stops last: a reaper left running would take a later test's children
	dir := t.TempDir()
	var us []*unit.Unit
	for name, body := range units {
		u, diags, err := unit.Parse(name, name, strings.NewReader(body))
		if err != nil || len(diags) > 0 {
			t.Fatalf("%s: %v %v", name, err, diags)
		}
		us = append(us, u)
	}
	t0 := time.Now()
	m, _, err := svc.New(svc.Config{Units: us, Level: 500, Spawner: rp, Clock: func() time.Duration { return time.Since(t0) },
		Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.StopAll(); m.Close() })
	path := filepath.Join(dir, "control.sock")
	l, err := Listen(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go (&Server{M: m, AllowGID: -1}).Serve(l)
	return m, path
}

// subscribe sends the events request and waits for the hello.
func subscribe(t *testing.T, path string) (net.Conn, *json.Decoder) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	json.NewEncoder(c).Encode(Request{Verb: "events"})
	dec := json.NewDecoder(bufio.NewReader(c))
	var hello Response
	if err := dec.Decode(&hello); err != nil || hello.Event == nil || hello.Event.Kind != "hello" || hello.Event.Level != "0.5" {
		t.Fatalf("hello: %+v %v", hello, err)
	}
	return c, dec
}

func TestEventsStream(t *testing.T) {
	m, path := realServer(t, map[string]string{
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 1000\n",
		"crash.service":   "[Unit]\nStartLimitBurst=2\n[Service]\nExecStart=/bin/sh -c 'echo about to fail; exit 7'\nRestart=always\nRestartSec=10ms\n",
		"gated.service":   "[Service]\nExecStart=/bin/sleep 1000\nConsciousnessLevel=0.9\n",
	})
	c, dec := subscribe(t, path)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	m.StartBoot()
	m.SetLevel(900)
	var got []string
	for all := ""; !strings.Contains(all, "unit gated.service running") || !strings.Contains(all, "crash.service failed"); all = strings.Join(got, "\n") {
		var r Response
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v after %q", err, got)
		}
		e := r.Event
		got = append(got, strings.TrimSpace(e.Kind+" "+e.Unit+" "+e.State+" "+e.Result+" "+e.Level))
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"unit sleeper.service running", "unit crash.service restarting exit-code 7",
		"unit crash.service failed start-limit-hit (exit-code 7)", "level    0.9", "unit gated.service starting"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	// The crash history over the socket: each exit with the line before it.
	r, err := Call(context.Background(), path, Request{Verb: "history", Args: []string{"crash"}}, nil)
	if err != nil || len(r.History) != 1 || len(r.History[0].Exits) != 2 {
		t.Fatalf("history %+v %v", r, err)
	}
	x := r.History[0].Exits[0]
	if *x.Code != 7 || !x.Restart || x.LastLogs[len(x.LastLogs)-1].Text != "about to fail" {
		t.Errorf("first exit %+v", x)
	}
}

// A client that subscribes and never reads must not stall the init: units still start, and its
// connection is closed once it is svc.EventBuffer events behind.
func TestEventsSlowClientDropped(t *testing.T) {
	m, path := realServer(t, map[string]string{
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	c, _ := subscribe(t, path)
	// Level changes are events without processes: enough of them to fill the kernel's socket
	// buffer and then the subscriber's.
	done := make(chan struct{})
	go func() {
		for i := range 20000 {
			m.SetLevel(bootconf.Level(400 + i%2))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("level changes stalled on a subscriber that does not read")
	}
	start := time.Now()
	if rep, err := m.Start("sleeper.service"); err != nil || rep.OK != 1 {
		t.Fatalf("start: %+v %v", rep, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a start took %s with a stuck subscriber", d)
	}
	// The init closed the connection without waiting for the client to read (its goroutine and
	// descriptor are gone): a write of the client's fails.
	var err error
	for deadline := time.Now().Add(10 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, err = c.Write([]byte("\n"))
	}
	if err == nil {
		t.Error("the slow subscriber's connection is still open on the init's side")
	}
	// What was sent before reads, then EOF.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1<<16)
	for err = nil; err == nil; {
		_, err = c.Read(buf)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the slow subscriber's connection: %v, want EOF", err)
	}
}
