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
	// The crasher may die before the boot's units have settled: then the boot is failed, naming
	// it (a failed boot unit is never ready; README.md); else ready, and it fails later.
	line, err := m.WaitFor(regexp.MustCompile(`genai-os: (ready|failed reason=units) edition=server level=0\.7 .*services=([0-9]+)/([0-9]+)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", line)
	if strings.Contains(line, "failed") && !strings.Contains(line, `detail="failed at boot: crasher.service"`) {
		t.Errorf("failed line %q: want only the crasher named", line)
	}
	// The gated unit is not wanted at this level; the sleeper, the crasher (perhaps still
	// retrying) and the edition's SSH socket are (sshd and its host key start on a connection).
	if !regexp.MustCompile(`services=[0-9]+/3 `).MatchString(line + " ") {
		t.Errorf("verdict line %q: want 3 units wanted at level 0.7 (sleeper, crasher, sshd.socket)", line)
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
	// status runs consciousness-manager status once and returns the unit's row matching pattern.
	// Callers first wait for what makes it true: the ready line, a console line, a command's end.
	status := func(pattern string) string {
		t.Helper()
		re := regexp.MustCompile(pattern)
		rows := run("consciousness-manager status")
		for _, l := range rows {
			if re.MatchString(l) {
				return l
			}
		}
		t.Fatalf("consciousness-manager status does not show %q:\n%s", pattern, strings.Join(rows, "\n"))
		return ""
	}
	// The sleeper was started before the ready line; the crasher gives up after its fifth start
	// within the burst, which the init logs on the console.
	t.Log(status(`sleeper\.service\s+running`))
	// (Perhaps before the ready line: Find looks at the whole console.)
	if _, err := m.Find(regexp.MustCompile(`crash-looping, giving up.*crasher\.service`), time.Minute); err != nil {
		t.Fatalf("the crasher never gave up: %v\n%s", err, m.Console())
	}
	t.Log(status(`crasher\.service\s+failed\s.*start-limit-hit`))
	t.Log(status(`gated\.service\s+inactive`))
	// Raising the level starts the gated unit before the command returns.
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
