package tutor

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/reaper"
	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/genai-os/genai-build/initramfs/unit"
)

// realInit runs the init's supervisor (svc.Manager) with the developer overlay's demo.service,
// at the developer edition's level 0.7, behind the init's control server on a socket in a
// temporary folder: the checks talk to it as they talk to PID 1.
func realInit(t *testing.T) (*svc.Manager, string) {
	t.Helper()
	f, err := os.Open("../../overlays/developer/etc/consciousness/services/demo.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, diags, err := unit.Parse("demo.service", f.Name(), f)
	if err != nil || len(diags) > 0 {
		t.Fatalf("demo.service: %v %v", err, diags)
	}
	r := reaper.New(nil)
	go r.Run()
	t0 := time.Now()
	m, _, err := svc.New(svc.Config{Units: []*unit.Unit{u}, Level: 700, Spawner: r,
		Clock: func() time.Duration { return time.Since(t0) }, Env: []string{"PATH=/usr/bin:/bin"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "tutor") // short: a unix socket path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "control.sock")
	l, err := ctl.Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	go (&ctl.Server{M: m, AllowGID: -1, Log: slog.Default()}).Serve(l)
	t.Cleanup(func() { l.Close(); m.StopAll(); m.Close(); r.Close(); os.RemoveAll(dir) })
	if rep := m.StartBoot(); rep.Total != 0 {
		t.Errorf("demo.service is a boot unit: boot report %+v (the developer boot counts services=1/1)", rep)
	}
	return m, sock
}

func mustCheck(t *testing.T, s string) Check {
	t.Helper()
	c, err := ParseCheck(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The levels lesson's checks, against the init's own supervisor: each fails with its reason
// before the learner acts, and passes after.
func TestInitChecks(t *testing.T) {
	m, sock := realInit(t)
	env := Env{Init: &CtlInit{Socket: sock}}
	ctx := context.Background()
	expect := func(check, wantErr string) {
		t.Helper()
		err := env.Run(ctx, mustCheck(t, check))
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", check, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: err = %v, want %q", check, err, wantErr)
		}
	}
	expect("level-at-least 0.9", "the level is 0.7; it should be at least 0.9")
	expect("level-at-most 0.7", "")
	expect("unit-running demo.service", "demo.service is inactive; it should be running")
	expect("unit-running nosuch.service", "the init has no unit nosuch.service")
	rep, err := m.Start("demo.service")
	if err != nil || len(rep.Skipped) != 1 {
		t.Errorf("start at 0.7: %+v %v, want skipped by level", rep, err)
	}
	expect("unit-running demo.service", "demo.service is inactive (level); it should be running")
	m.SetLevel(900)
	expect("level-at-least 0.9", "")
	expect("level-at-most 0.7", "the level is 0.9; it should be at most 0.7")
	expect("unit-running demo.service", "demo.service is inactive (level)") // raising the level starts no non-boot unit
	if rep, err := m.Start("demo.service"); err != nil || rep.OK != 1 {
		t.Fatalf("start at 0.9: %+v %v", rep, err)
	}
	expect("unit-running demo.service", "")
	expect("unit-stopped demo.service", "demo.service is still running; it should be stopped")
	m.SetLevel(700)
	expect("unit-stopped demo.service", "")
	expect("unit-running demo.service", "demo.service is inactive (level)")
}

// The control socket refuses a learner who is not root (the developer's dev): the query goes
// through sudo's consciousness-manager --json, which prints the same Response.
func TestCtlInitSudo(t *testing.T) {
	dir, _ := os.MkdirTemp("", "tutor")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "control.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // the init's answer to a peer it does not allow (ctl.Server.handle)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n') // read first, so the test does not race the client's write
			json.NewEncoder(c).Encode(ctl.Response{Error: "permission denied: root or group consciousness only"})
			c.Close()
		}
	}()
	resp, _ := json.Marshal(ctl.Response{Level: "0.9", Services: []svc.Status{{Name: "demo.service", State: svc.Running}}})
	ci := &CtlInit{Socket: sock, Sudo: []string{"echo", string(resp)}}
	env := Env{Init: ci}
	for _, c := range []string{"level-at-least 0.9", "unit-running demo.service"} {
		if err := env.Run(context.Background(), mustCheck(t, c)); err != nil {
			t.Errorf("%s through sudo: %v", c, err)
		}
	}
	ci.Sudo = []string{"false"}
	if err := env.Run(context.Background(), mustCheck(t, "level-at-least 0.9")); err == nil || !strings.Contains(err.Error(), "refuses you (root or group consciousness only), and false failed") {
		t.Errorf("sudo failing: %v", err)
	}
	ci.Sudo = nil
	if err := env.Run(context.Background(), mustCheck(t, "level-at-least 0.9")); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("no sudo: %v", err)
	}
}

func TestFileChecks(t *testing.T) {
	home := t.TempDir()
	env := Env{Home: home}
	ctx := context.Background()
	run := func(check string) error { t.Helper(); return env.Run(ctx, mustCheck(t, check)) }
	if err := run("file-exists ~/units.txt"); err == nil || err.Error() != "~/units.txt does not exist yet" {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(filepath.Join(home, "units.txt"), []byte("SERVICE STATE\nsshd.socket running\n"), 0o644)
	if err := run("file-exists ~/units.txt"); err != nil {
		t.Error(err)
	}
	if err := run("file-contains ~/units.txt sshd.socket running"); err != nil {
		t.Error(err)
	}
	if err := run("file-contains ~/units.txt demo.service"); err == nil || !strings.Contains(err.Error(), `does not contain "demo.service"`) {
		t.Errorf("absent text: %v", err)
	}
	if err := run("file-contains ~/nope x"); err == nil || !strings.Contains(err.Error(), "~/nope cannot be read: no such file") {
		t.Errorf("absent file: %v", err)
	}

	// key-authorized: the key, not its comment, is a line (after options) of authorized_keys.
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTutorTestOnly learner@laptop\n"
	os.WriteFile(filepath.Join(home, ".ssh/tutor_ed25519.pub"), []byte(pub), 0o644)
	if err := run("key-authorized ~/.ssh/tutor_ed25519.pub"); err == nil || !strings.Contains(err.Error(), "authorized_keys cannot be read") {
		t.Errorf("no authorized_keys: %v", err)
	}
	os.WriteFile(filepath.Join(home, ".ssh/authorized_keys"), []byte("ssh-ed25519 AAAAother dev@host\n"), 0o600)
	if err := run("key-authorized ~/.ssh/tutor_ed25519.pub"); err == nil || !strings.Contains(err.Error(), "is not in ~/.ssh/authorized_keys") {
		t.Errorf("key absent: %v", err)
	}
	os.WriteFile(filepath.Join(home, ".ssh/authorized_keys"), []byte("ssh-ed25519 AAAAother dev@host\nno-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTutorTestOnly other-comment\n"), 0o600)
	if err := run("key-authorized ~/.ssh/tutor_ed25519.pub"); err != nil {
		t.Error(err)
	}
	os.WriteFile(filepath.Join(home, "bad.pub"), []byte("hello\n"), 0o644)
	if err := run("key-authorized ~/bad.pub"); err == nil || !strings.Contains(err.Error(), "not an OpenSSH public key") {
		t.Errorf("bad key: %v", err)
	}

	// command-succeeds: no shell, run in the home.
	if err := run("command-succeeds test -s units.txt"); err != nil {
		t.Error(err)
	}
	if err := run("command-succeeds ls nothing-here"); err == nil || !strings.Contains(err.Error(), "`ls nothing-here` failed (exit status 2): ls: cannot access") {
		t.Errorf("failing command: %v", err)
	}
}

func TestParseCheck(t *testing.T) {
	for _, bad := range []string{"", "unit-running", "unit-running a b", "level-at-least 1.5", "command-succeeds", "file-contains x", "rm -rf /"} {
		if c, err := ParseCheck(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, c)
		}
	}
	if l, _ := bootconf.ParseLevel("0.9"); l != 900 {
		t.Fatal(l)
	}
}
