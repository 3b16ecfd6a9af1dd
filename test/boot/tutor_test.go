package boot_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// TestTutor boots the developer edition, logs in as dev over SSH and takes the "levels" lesson
// with educational-tutor, its input scripted: a check the init answers fails until the learner
// raises the level and starts demo.service with sudo consciousness-manager, progress survives
// a new SSH session, and the demo unit is no boot unit (services=1/1 at level 0.7).
func TestTutor(t *testing.T) {
	needQEMU(t)
	signer, authorized := testKey(t)
	res := buildISO(t, "developer-tutor", build.Options{Edition: "developer",
		SSHKeys: []string{authorized}})
	addr, port := freePort(t)
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD, MemoryMB: 1024,
		HostFwd: []string{"tcp:127.0.0.1:" + port + "-:22"}}, 8*time.Minute)
	ready, err := vm.Find(readyLine("developer"), 3*time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	if !strings.Contains(ready, "level=0.7 ") || !strings.Contains(ready, " services=1/1 ") {
		t.Errorf("ready line %q: want level 0.7 and services=1/1 (demo.service is no boot unit)", ready)
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "dev", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("ssh dev@: %v\nconsole:\n%s", err, vm.Console())
	}
	defer client.Close()
	// run runs cmd in a new session (bash, as dev) with stdin; wantCode is its exit status.
	run := func(cmd, stdin string, wantCode int) string {
		t.Helper()
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Stdin = strings.NewReader(stdin)
		out, err := s.CombinedOutput(cmd)
		t.Logf("$ %s\n%s", cmd, out)
		code := 0
		if ee, ok := err.(*ssh.ExitError); ok {
			code = ee.ExitStatus()
		} else if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d", cmd, code, wantCode)
		}
		return string(out)
	}
	expect := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !regexp.MustCompile(w).MatchString(out) {
				t.Errorf("output does not match %q:\n%s", w, out)
			}
		}
	}
	expect(run("educational-tutor list", "", 0), `(?m)^  levels\s+Consciousness levels\s+4\s+-$`, `(?m)^  updates\s+Updates\s+2\s+-$`)
	// Step 1 is read (Enter), step 2's check fails: the level is the boot's 0.7.
	expect(run("educational-tutor start levels", "\n\n", 0),
		`step 1/4: Try a unit above the level`, `step 2/4: Raise the level`,
		`not yet: the level is 0.7; it should be at least 0.9`, `hint: sudo consciousness-manager level 0.9`, `Progress saved`)
	// At 0.7 the init refuses the unit by its level, as the lesson says.
	expect(run("sudo consciousness-manager start demo", "", 0), `start: 0/0 ok, skipped by level: demo.service`)
	expect(run("sudo consciousness-manager level 0.9 && educational-tutor check", "", 0),
		`ok: level-at-least 0.9`, `step 3/4: Start the demo service`)
	// Step 3 fails until demo.service runs.
	expect(run("educational-tutor check", "", 1), `not yet: demo.service is inactive \(level\); it should be running`)
	// A new session resumes at step 3; the learner starts the unit from the tutor's prompt.
	expect(run("educational-tutor start", "! sudo consciousness-manager start demo\n\n! sudo consciousness-manager level 0.7\ncheck\n", 0),
		`Resuming "Consciousness levels" at step 3`, `start: 1/1 ok`, `ok: unit-running demo.service`,
		`step 4/4: Lower the level again`, `ok: level-at-most 0.7`, `ok: unit-stopped demo.service`, `Lesson "Consciousness levels" done`)
	expect(run("educational-tutor list; cat ~/.local/state/genai-tutor/progress.json", "", 0),
		`(?m)^\* levels\s+Consciousness levels\s+4\s+done$`, `"current": "levels"`)
	// A file check, and ? without an assistant endpoint.
	expect(run("educational-tutor start ssh-keys", "? what is ed25519\n\n! ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/tutor_ed25519\n\n", 0),
		`No assistant endpoint is set`, `not yet: ~/.ssh/tutor_ed25519.pub does not exist yet`, `ok: file-exists ~/.ssh/tutor_ed25519.pub`,
		`step 2/2: Authorize it`)
	expect(run("educational-tutor check; cat ~/.ssh/tutor_ed25519.pub >> ~/.ssh/authorized_keys; educational-tutor check", "", 0),
		`not yet: the key in ~/.ssh/tutor_ed25519.pub is not in ~/.ssh/authorized_keys`, `ok: key-authorized ~/.ssh/tutor_ed25519.pub`, `Lesson "SSH keys" done`)
	expect(run("man -P cat educational-tutor | grep -m1 lessons; ls /usr/share/genai/tutor", "", 0), `educational-tutor - lessons about GenAI OS`, `20-levels.md`)
}
