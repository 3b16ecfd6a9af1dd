package boot_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// TestDebugger boots the server ISO with the services test's units (a crasher, a unit above the
// boot level, a sleeper) and a crash-looping unit that logs why, then runs consciousness-debugger
// at the console shell as an operator would, and checks each command's output.
func TestDebugger(t *testing.T) {
	needQEMU(t)
	res := buildISO(t, "debugger", build.Options{ExtraOverlays: []string{"testdata/overlay", "testdata/debugger"}})
	m := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD}, 5*time.Minute)
	chooseDebug(t, m)
	if _, err := m.WaitFor(regexp.MustCompile(`genai-os: (ready|failed reason=units) edition=server level=0\.7 `)); err != nil {
		t.Fatal(err)
	}
	// Both crash loops end before the checks, so that the state they read stays put.
	for _, u := range []string{"crasher", "noisy"} {
		if _, err := m.Find(regexp.MustCompile(`crash-looping, giving up.*`+u+`\.service`), time.Minute); err != nil {
			t.Fatalf("%s never gave up: %v\n%s", u, err, m.Console())
		}
	}
	atPrompt := false
	run := func(cmd string) string {
		t.Helper()
		if !atPrompt {
			if err := m.Expect("$ ", time.Minute); err != nil {
				t.Fatalf("no shell prompt on the console: %v\n%s", err, m.Console())
			}
			atPrompt = true
		}
		from := m.Mark()
		if err := m.Send(cmd + "\r"); err != nil {
			t.Fatal(err)
		}
		if err := m.Expect("\n$ ", time.Minute); err != nil {
			t.Fatalf("%s: no prompt after it: %v\n%s", cmd, err, m.Console())
		}
		out := strings.ReplaceAll(m.Since(from), "\r", "")
		m.Mark()
		out = strings.TrimSuffix(out, "$ ")
		t.Logf("$ %s", out) // the echoed command, then its output: the README's transcript
		return out
	}
	check := func(what, out string, patterns ...string) {
		t.Helper()
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(out) {
				t.Errorf("%s: no match for %q in:\n%s", what, p, out)
			}
		}
	}
	check("timeline", run("consciousness-debugger timeline --svg /tmp/boot.svg"),
		`boot of server at level 0\.7: \d+/\d+ units`,
		`(?m)^phase services started +\d+ +\d+  \|[ #]+\|$`,
		`(?m)^unit  sleeper\.service +\d+ +\d+  \|[ #]+\|$`)
	check("timeline --svg", run("cat /tmp/boot.svg"), `^cat /tmp/boot.svg\n<svg xmlns="http://www.w3.org/2000/svg"`, `<rect x=`, `</svg>\n$`)
	check("graph", run("consciousness-debugger graph"),
		`(?m)^gated\.service \[inactive level\] level 0\.9 \(after sleeper\.service\)$`,
		`(?m)^sshd\.socket \[running\]\n└─ triggers sshd\.service \[inactive\]`)
	check("graph --dot", run("consciousness-debugger graph --dot"), `"sshd\.socket" -> "sshd\.service" \[label="triggers"`)
	check("crashes", run("consciousness-debugger crashes noisy"),
		`noisy\.service: 2 restarts, now failed start-limit-hit \(exit-code 1\)`,
		`(?m)^ +\d+\.\d{3}s  exit-code 1 +restarted$`,
		`(?m)^ +\d+\.\d{3}s  exit-code 1 +not restarted$`,
		`(?m)^ +\d+\.\d{3}s  \| .*/etc/noisy\.conf`)
	check("why gated", run("consciousness-debugger why gated"), `its level 0\.9 is above the running level 0\.7`)
	check("why crasher", run("consciousness-debugger why crasher"), `crasher\.service failed: start-limit-hit`, `restart burst limit`)
	check("why sshd", run("consciousness-debugger why sshd"), `socket-activated: sshd\.socket \(running\) starts it on the first connection`)
	// follow in the background while the manager restarts a unit: the four events of a restart.
	check("follow", run("consciousness-debugger follow --count 4 & sleep 1; consciousness-manager restart sleeper; wait"),
		`subscribed, level 0\.7`,
		`unit  sleeper\.service +stopping\n(.*\n)*.*unit  sleeper\.service +inactive \(stopped\)\n(.*\n)*.*unit  sleeper\.service +starting\n(.*\n)*.*unit  sleeper\.service +running`)
	check("no init", run("consciousness-debugger --socket /tmp/none.sock timeline"), `the init \(consciousness-init\) is not running`)
}
