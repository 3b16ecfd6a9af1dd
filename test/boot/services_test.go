package boot_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// servicesISO is the server ISO with testdata/overlay laid over it (genai-build iso --overlay):
// three test units beside the edition's own.
func servicesISO(t *testing.T) *build.Result {
	return buildISO(t, "services", build.Options{ExtraOverlays: []string{"testdata/overlay"}})
}

// TestServices boots the server ISO with test units and drives the init from its serial console
// with consciousness-manager, as an operator would.
func TestServices(t *testing.T) {
	needQEMU(t)
	res := servicesISO(t)
	m := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD}, 5*time.Minute)
	chooseDebug(t, m)
	line, err := m.WaitFor(regexp.MustCompile(`genai-os: ready edition=server level=0\.7 .*services=([0-9]+)/([0-9]+)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", line)
	// The gated unit is not wanted at this level; the sleeper, the crasher (perhaps still
	// retrying) and the edition's SSH socket are (sshd and its host key start on a connection).
	if !regexp.MustCompile(`services=[0-9]+/3 `).MatchString(line + " ") {
		t.Errorf("ready line %q: want 3 units wanted at level 0.7 (sleeper, crasher, sshd.socket)", line)
	}
	// run types a command at the console shell's prompt, as an operator would, and returns the
	// lines it printed up to the next prompt.
	atPrompt := false
	run := func(cmd string) []string {
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
		out := strings.Split(strings.ReplaceAll(m.Since(from), "\r", ""), "\n")
		m.Mark()
		return out
	}
	// status runs consciousness-manager status until a unit's row matches pattern.
	status := func(pattern string) string {
		t.Helper()
		re := regexp.MustCompile(pattern)
		for i := 0; i < 20; i++ {
			for _, l := range run("consciousness-manager status") {
				if re.MatchString(l) {
					return l
				}
			}
			time.Sleep(time.Second)
		}
		t.Fatalf("consciousness-manager status never showed %q; console:\n%s", pattern, m.Console())
		return ""
	}
	t.Log(status(`sleeper\.service\s+running`))
	t.Log(status(`crasher\.service\s+failed\s.*start-limit-hit`))
	t.Log(status(`gated\.service\s+inactive`))
	// Raising the level starts the gated unit.
	t.Log(run("consciousness-manager level 0.95"))
	t.Log(status(`gated\.service\s+running`))
	// Power off through the manager: QEMU must end by itself, with exit status 0, within 10 s.
	if err := m.Send("consciousness-manager poweroff\r"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.Wait(); err != nil {
		t.Fatalf("after poweroff: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("poweroff took %s, want at most 10 s", d)
	}
}
