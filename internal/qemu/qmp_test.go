package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArgsQMP(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a,b.iso")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args, err := Config{Image: img, Media: CD, QMP: "/run/q,1.sock"}.Args(AccelTCG)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(args, "-qmp")
	if i < 0 || args[i+1] != "unix:/run/q,,1.sock,server=on,wait=off" {
		t.Errorf("args %q: want -qmp unix:/run/q,,1.sock,server=on,wait=off", args)
	}
	if args, _ := (Config{Image: img, Media: CD}).Args(AccelTCG); slices.Contains(args, "-qmp") {
		t.Errorf("-qmp without Config.QMP: %q", args)
	}
}

// TestQMP drives a real QEMU, with a blank disc and nothing to boot, over its QMP socket.
func TestQMP(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatal(ErrNoQEMU)
	}
	img := filepath.Join(t.TempDir(), "blank.iso")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := Start(ctx, Config{Image: img, Firmware: BIOS, Media: CD, Accel: AccelTCG, CPUs: 1, MemoryMB: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	ret, err := m.QMP(ctx, "query-status", nil)
	if err != nil || !strings.Contains(string(ret), `"running"`) {
		t.Fatalf("query-status = %s, %v", ret, err)
	}
	if _, err := m.QMP(ctx, "no-such-command", nil); err == nil || !strings.Contains(err.Error(), "CommandNotFound") {
		t.Errorf("unknown command: %v", err)
	}
	if err := m.SendKeys(ctx, "ctrl", "alt", "delete"); err != nil {
		t.Errorf("send-key: %v", err)
	}
	if err := m.SendKeys(ctx, "no-such-key"); err == nil {
		t.Error("send-key accepted an unknown key")
	}
	if err := m.PowerButton(ctx); err != nil { // nothing runs that would answer it
		t.Errorf("system_powerdown: %v", err)
	}
	if _, err := m.QMP(ctx, "quit", nil); err != nil {
		t.Fatalf("quit: %v", err)
	}
	if err := m.Wait(); err != nil {
		t.Errorf("after quit: %v", err)
	}
	if _, err := m.QMP(ctx, "query-status", nil); err == nil {
		t.Error("QMP after QEMU exited")
	}
}
