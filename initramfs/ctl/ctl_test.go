package ctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/svc"
)

type fake struct {
	level   bootconf.Level
	started []string
	ch      chan svc.LogLine
}

func (f *fake) Status(names ...string) ([]svc.Status, error) {
	if len(names) == 1 && names[0] == "nope.service" {
		return nil, svc.ErrNoUnit
	}
	return []svc.Status{{Name: "a.service", State: svc.Running, PID: 42}}, nil
}
func (f *fake) Start(n ...string) (svc.Report, error) {
	f.started = append(f.started, n...)
	return svc.Report{OK: len(n), Total: len(n)}, nil
}
func (f *fake) Stop(...string) error                     { return nil }
func (f *fake) Restart(n ...string) (svc.Report, error)  { return f.Start(n...) }
func (f *fake) Reload(string) error                      { return errors.New("no ExecReload=") }
func (f *fake) Logs(string) ([]svc.LogLine, error)       { return []svc.LogLine{{Text: "x"}}, nil }
func (f *fake) Level() bootconf.Level                    { return f.level }
func (f *fake) SetLevel(l bootconf.Level) svc.Report     { f.level = l; return svc.Report{} }
func (f *fake) Subscribe() *svc.Subscription             { return nil }
func (f *fake) History(...string) ([]svc.History, error) { return nil, nil }
func (f *fake) Follow(string) ([]svc.LogLine, <-chan svc.LogLine, func(), error) {
	return []svc.LogLine{{Text: "old"}}, f.ch, func() {}, nil
}

func TestServer(t *testing.T) {
	dir, _ := os.MkdirTemp("", "ctl")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "control.sock")
	l, err := Listen(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f := &fake{level: 500, ch: make(chan svc.LogLine, 1)}
	powered := ""
	srv := &Server{M: f, AllowGID: -1, Power: func(v string) error { powered = v; return nil },
		Boot: func() BootInfo { return BootInfo{ReadyMs: 1234} }}
	go srv.Serve(l)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call := func(req Request) Response {
		t.Helper()
		r, err := Call(ctx, path, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := call(Request{Verb: "status"}); len(r.Services) != 1 || r.Services[0].PID != 42 || r.Level != "0.5" {
		t.Errorf("status %+v", r)
	}
	if r := call(Request{Verb: "status", Args: []string{"nope"}}); r.Error == "" {
		t.Errorf("status nope %+v", r)
	}
	if r := call(Request{Verb: "start", Args: []string{"sshd"}}); r.Report == nil || f.started[0] != "sshd.service" {
		t.Errorf("start %+v %v", r, f.started)
	}
	if r := call(Request{Verb: "start"}); r.Error == "" {
		t.Error("start without a name accepted")
	}
	if r := call(Request{Verb: "level", Args: []string{"0.9"}}); r.Level != "0.9" || f.level != 900 {
		t.Errorf("level %+v", r)
	}
	if r := call(Request{Verb: "level", Args: []string{"3"}}); r.Error == "" {
		t.Error("level 3 accepted")
	}
	if r := call(Request{Verb: "boot"}); r.Boot == nil || r.Boot.ReadyMs != 1234 {
		t.Errorf("boot %+v", r)
	}
	if r := call(Request{Verb: "reload", Args: []string{"a"}}); r.Error != "no ExecReload=" {
		t.Errorf("reload %+v", r)
	}
	if r := call(Request{Verb: "poweroff"}); !r.Done || powered != "poweroff" {
		t.Errorf("poweroff %+v", r)
	}
	if r := call(Request{Verb: "dance"}); r.Error == "" {
		t.Error("unknown verb accepted")
	}

	f.ch <- svc.LogLine{Text: "new"}
	var got []string
	fctx, fcancel := context.WithCancel(ctx)
	first, err := Call(fctx, path, Request{Verb: "logs", Args: []string{"a"}, Follow: true}, func(r Response) error {
		got = append(got, r.Lines[0].Text)
		fcancel()
		return nil
	})
	if err != nil || len(first.Lines) != 1 || first.Lines[0].Text != "old" || len(got) != 1 || got[0] != "new" {
		t.Errorf("follow: %+v %v %v", first, got, err)
	}
}
