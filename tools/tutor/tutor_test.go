package tutor

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The levels lesson through the command line, against the init's supervisor: a check that
// fails says why, the learner acts, `check` passes and moves on, and a new run resumes where
// the last one stopped (progress in $XDG_STATE_HOME).
func TestLevelsLesson(t *testing.T) {
	m, sock := realInit(t)
	state := t.TempDir()
	env := map[string]string{"HOME": t.TempDir(), "XDG_STATE_HOME": state}
	o := Options{Dir: "lessons", Init: &CtlInit{Socket: sock}, Getenv: func(k string) string { return env[k] }}
	run := func(stdin string, args ...string) (string, int) {
		t.Helper()
		var out bytes.Buffer
		code := Run(context.Background(), o, args, strings.NewReader(stdin), &out, &out)
		return out.String(), code
	}
	want := func(out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
	out, code := run("\n\nq\n", "start", "levels")
	want(out, "# Consciousness levels", "step 1/4: Try a unit above the level", "step 2/4: Raise the level",
		"not yet: the level is 0.7; it should be at least 0.9", "hint: sudo consciousness-manager level 0.9", "Progress saved")
	if code != 0 {
		t.Errorf("start: exit %d", code)
	}
	out, code = run("", "check")
	want(out, "levels, step 2/4: Raise the level", "not yet: the level is 0.7")
	if code != 1 {
		t.Errorf("check not passed: exit %d, want 1", code)
	}
	m.SetLevel(900)
	out, code = run("", "check")
	want(out, "ok: level-at-least 0.9", "step 3/4: Start the demo service")
	if code != 0 {
		t.Errorf("check passed: exit %d\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(state, "genai-tutor/progress.json"))
	if err != nil || !strings.Contains(string(b), `"current": "levels"`) || !strings.Contains(string(b), `"step": 2`) {
		t.Errorf("progress: %s %v", b, err)
	}
	m.Start("demo.service")
	out, _ = run("\n", "start") // resumes the lesson in hand
	want(out, `Resuming "Consciousness levels" at step 3.`, "ok: unit-running demo.service", "step 4/4: Lower the level again")
	m.SetLevel(700)
	out, code = run("", "check")
	want(out, "ok: level-at-most 0.7", "ok: unit-stopped demo.service", `Lesson "Consciousness levels" done.`)
	out, _ = run("", "list")
	want(out, "levels    Consciousness levels   4      done")
	out, _ = run("", "reset", "levels")
	want(out, "progress of levels forgotten")
	out, _ = run("", "list")
	if strings.Contains(out, "done") {
		t.Errorf("after reset:\n%s", out)
	}
}

func TestCLI(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir()}
	o := Options{Dir: "lessons", Init: &CtlInit{Socket: "/nonexistent"}, Getenv: func(k string) string { return env[k] }}
	run := func(stdin string, args ...string) (string, int) {
		var out bytes.Buffer
		code := Run(context.Background(), o, args, strings.NewReader(stdin), &out, &out)
		return out.String(), code
	}
	if out, code := run("", "--help"); code != 0 || !strings.Contains(out, "examples:") {
		t.Errorf("--help: %d\n%s", code, out)
	}
	if _, code := run("", "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if out, code := run("", "start", "nope"); code != 2 || !strings.Contains(out, `no lesson "nope"`) {
		t.Errorf("unknown lesson: %d %s", code, out)
	}
	if out, code := run("", "check"); code != 2 || !strings.Contains(out, "no lesson in hand") {
		t.Errorf("check with no lesson: %d %s", code, out)
	}
	// Questions without an endpoint say how to set one; ! runs a command; the file check passes
	// once the command made the file.
	out, _ := run("? what is a unit\n! echo hello\n\n", "start", "units")
	if !strings.Contains(out, "No assistant endpoint is set") || !strings.Contains(out, "GENAI_ENDPOINT") {
		t.Errorf("? without an endpoint:\n%s", out)
	}
	if !strings.Contains(out, "step 2/3: Ask the init") {
		t.Errorf("reading step not passed:\n%s", out)
	}
	o.Shell = "/bin/sh"
	os.WriteFile(filepath.Join(env["HOME"], "units.txt"), []byte("sshd.service running\n"), 0o644)
	if out, code := run("", "check"); code != 0 || !strings.Contains(out, "ok: file-contains ~/units.txt sshd.service") {
		t.Errorf("file check: %d\n%s", code, out)
	}
	// With an assistant: the question goes with the lesson as context.
	var asked askRecorder
	o.NewAsker = func() (Asker, error) { return &asked, nil }
	out, _ = run("? what is a target\nq\n", "start", "units")
	if !strings.Contains(out, "answer to: what is a target") || !strings.Contains(asked.system, "## Step 2: Ask the init") {
		t.Errorf("ask: %q\n%s", asked.system, out)
	}
}

type askRecorder struct{ system string }

func (a *askRecorder) Ask(_ context.Context, system, q string, w io.Writer) error {
	a.system = system
	_, err := w.Write([]byte("answer to: " + q))
	return err
}
