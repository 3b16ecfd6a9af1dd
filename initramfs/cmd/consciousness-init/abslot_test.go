package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/reaper"
)

// TestHealthChecks runs the checks as the init does after a trial boot's verdict: the units,
// the network, and health.d's programs through the reaper (real processes, /bin/sh).
func TestHealthChecks(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, healthDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := func(name, body string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	in := &initProc{root: root, log: slog.New(slog.DiscardHandler), reaper: reaper.New(nil)}
	go in.reaper.Run()
	t.Cleanup(in.reaper.Close)
	in.conf.Network.Mode = "off"
	old, oldStable := healthTimeout, stableFor
	healthTimeout, stableFor = 2*time.Second, 0
	t.Cleanup(func() { healthTimeout, stableFor = old, oldStable })

	script("10-ok", "echo fine; exit 0", 0o755)
	script("README", "exit 1", 0o644) // not executable: not a check
	if c := in.healthChecks(2, 2, "", ""); !c.OK {
		t.Fatalf("passing checks: %+v", c)
	}
	if c := in.healthChecks(1, 2, "units", "failed at boot: x.service"); c.OK || !strings.Contains(c.Detail, "boot units 1/2 up") {
		t.Errorf("a unit down: %+v", c)
	}
	in.conf.Network.Mode = "dhcp"
	in.netResult = make(chan error, 1)
	in.netResult <- errors.New("no lease")
	if c := in.healthChecks(2, 2, "", ""); c.OK || c.Detail != "network: no lease" {
		t.Errorf("network down: %+v", c)
	}
	in.conf.Network.Mode = "off"

	script("20-api", "echo starting; echo 'api down' >&2; exit 3", 0o755)
	if c := in.healthChecks(2, 2, "", ""); c.OK || c.Detail != "health.d/20-api: exit 3: api down" {
		t.Errorf("a failing program: %+v", c)
	}
	script("20-api", "exit 0", 0o755)
	script("30-hang", "sleep 30 & sleep 30", 0o755)
	t0 := time.Now()
	if c := in.healthChecks(2, 2, "", ""); c.OK || !strings.HasPrefix(c.Detail, "health.d/30-hang: killed after 2s") {
		t.Errorf("a program that hangs: %+v", c)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the hung check took %v", d)
	}
}
