package debugger

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/reaper"
	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/genai-os/genai-build/initramfs/unit"
)

// liveInit runs a real svc.Manager over real processes behind a real control socket, as the
// init does, unprivileged.
func liveInit(t *testing.T) (*svc.Manager, string) {
	t.Helper()
	rp := reaper.New(nil)
	go rp.Run()
	t.Cleanup(rp.Close) // registered first, so it stops last: a reaper left running would take a later test's children
	files := map[string]string{
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 1000\n",
		"crasher.service": "[Unit]\nStartLimitBurst=3\n[Service]\nExecStart=/bin/sh -c 'echo cannot open /etc/crasher.conf; exit 2'\nRestart=always\nRestartSec=10ms\n",
		"gated.service":   "[Unit]\nAfter=sleeper.service\n[Service]\nExecStart=/bin/sleep 1000\nConsciousnessLevel=0.9\n",
		"broken.service":  "[Service]\nExecStart=/nonexistent/daemon\n",
		"app.service":     "[Unit]\nRequires=broken.service\nAfter=broken.service\n[Service]\nExecStart=/bin/sleep 1000\n",
		"web.service":     "[Unit]\nRequires=crasher.service\nAfter=crasher.service\n[Service]\nExecStart=/bin/sleep 1000\n",
	}
	var us []*unit.Unit
	for name, body := range files {
		u, diags, err := unit.Parse(name, name, strings.NewReader(body))
		if err != nil || len(diags) > 0 {
			t.Fatalf("%s: %v %v", name, err, diags)
		}
		us = append(us, u)
	}
	// The clock is time since boot, as PID 1's: the kernel's part came first, so no unit starts at
	// 0 ms (which svc.Status takes for "never started"; a warm second run starts one within 1 ms).
	t0 := time.Now().Add(-time.Second)
	m, _, err := svc.New(svc.Config{Units: us, Level: 700, Spawner: rp, Clock: func() time.Duration { return time.Since(t0) },
		Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.StopAll(); m.Close() })
	path := filepath.Join(t.TempDir(), "control.sock")
	l, err := ctl.Listen(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ready := time.Since(t0)
	rep := m.StartBoot()
	srv := &ctl.Server{M: m, AllowGID: -1, Boot: func() ctl.BootInfo {
		return ctl.BootInfo{Edition: "test", Level: "0.7", InitMs: 1, ReadyMs: (time.Since(t0) + ready).Milliseconds(),
			ServicesOK: rep.OK, ServicesTotal: rep.Total, Phases: []ctl.Phase{{Name: "setup", Ms: 2}, {Name: "services", Ms: ready.Milliseconds() + 3}}}
	}}
	go srv.Serve(l)
	return m, path
}

// debugger runs the command line and returns its exit status and output.
func debugger(ctx context.Context, socket string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"--socket", socket}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAgainstLiveInit(t *testing.T) {
	m, sock := liveInit(t)
	ctx := context.Background()
	// The crasher gives up after its third start.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, _ := m.Status("crasher.service")
		if st[0].State == svc.Failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("crasher: %+v", st)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"timeline"}, []string{"boot of test at level 0.7", "phase services", "unit  sleeper.service"}},
		{[]string{"graph"}, []string{"web.service [running] (after crasher.service)\n└─ requires crasher.service [failed start-limit-hit (exit-code 2)]", "gated.service [inactive level] level 0.9 (after sleeper.service)"}},
		{[]string{"graph", "--dot"}, []string{`"app.service" -> "broken.service" [label="requires", style=bold];`}},
		{[]string{"crashes"}, []string{"crasher.service: 2 restarts, now failed start-limit-hit (exit-code 2)", "exit-code 2      restarted\n      ", "| cannot open /etc/crasher.conf"}},
		{[]string{"crashes", "sleeper"}, []string{"sleeper.service: 0 restarts, now running", "no exits recorded"}},
		{[]string{"why", "gated"}, []string{"its level 0.9 is above the running level 0.7"}},
		{[]string{"why", "app"}, []string{"app.service failed: dependency failed: broken.service", "it requires broken.service, which did not start:\n    broken.service failed: exec: /nonexistent/daemon", "its program could not be executed"}},
		{[]string{"why", "crasher"}, []string{"restart burst limit", "its last exit, at", "| cannot open /etc/crasher.conf"}},
		{[]string{"why", "web"}, []string{"web.service is running", "but it requires crasher.service, which is failed start-limit-hit"}},
		{[]string{"why", "sleeper.service"}, []string{"sleeper.service is running"}},
	} {
		code, out, errs := debugger(ctx, sock, tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: no %q in\n%s", tc.args, w, out)
			}
		}
	}
	// follow sees a restart as it happens.
	var wg sync.WaitGroup
	var code int
	var out, errs string
	wg.Add(1)
	go func() {
		defer wg.Done()
		fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		code, out, errs = debugger(fctx, sock, "follow", "--count", "4")
	}()
	// The hello goes out before the restart's events: wait until follow is subscribed.
	time.Sleep(300 * time.Millisecond)
	if _, err := m.Restart("sleeper.service"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, w := range []string{"subscribed, level 0.7", "unit  sleeper.service              stopping",
		"sleeper.service              inactive (stopped)", "sleeper.service              starting", "sleeper.service              running"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("follow: exit %d, no %q in\n%s%s", code, w, out, errs)
		}
	}
	// Ctrl-C ends follow quietly.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if code, out, errs := debugger(cctx, sock, "follow"); code != 0 || !strings.Contains(out, "subscribed") {
		t.Errorf("follow until cancelled: exit %d %q %q", code, out, errs)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "control.sock")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"timeline"}, 1, "the init (consciousness-init) is not running"},
		{[]string{"follow"}, 1, "the init (consciousness-init) is not running"},
		{[]string{"why"}, 2, "want one unit"},
		{[]string{"dance"}, 2, `no command "dance"`},
		{[]string{"graph", "extra"}, 2, "no arguments expected"},
		{[]string{"timeline", "--svg"}, 2, "flag needs an argument"},
	} {
		code, _, errs := debugger(ctx, missing, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	// Help, with examples, for the tool and each command.
	for _, args := range [][]string{{"--help"}, {"help"}, {"timeline", "--help"}, {"graph", "-h"}, {"crashes", "--help"}, {"why", "--help"}, {"follow", "--help"}} {
		code, out, _ := debugger(ctx, missing, args...)
		if code != 0 || !strings.Contains(out, "usage: consciousness-debugger") || !strings.Contains(out, "examples:") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}
