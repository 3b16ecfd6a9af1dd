package abboot

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/ab"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	pendB := &ab.Attempt{Slot: ab.B, Version: "2.0", Installed: now.Add(-time.Hour)}
	ok, bad := &Checks{OK: true}, &Checks{Detail: "health.d/50-api: exit 1"}
	env := func(active, trial ab.Slot, left int, spare bool) *ab.Env {
		return &ab.Env{Active: active, Trial: trial, Left: left, SpareOK: spare}
	}
	result := func(s ab.Slot, v, outcome, reason string) *ab.State {
		return &ab.State{Last: &ab.Result{Slot: s, Version: v, Outcome: outcome, Reason: reason, Time: now}}
	}
	for _, c := range []struct {
		name    string
		in      Input
		env     *ab.Env
		state   *ab.State
		lines   []string // prefixes, in order
		trial   bool
		reboot  bool
		logHint string
	}{
		{name: "factory boot", in: Input{Env: ab.Factory, Booted: ab.A, Version: "1.0"},
			lines: []string{"genai-os: slot booted=A active=A trial=none left=0 version=1.0"}},
		{name: "trial boot", in: Input{Env: *env(ab.A, ab.B, 2, false), Booted: ab.B, Version: "2.0", State: ab.State{Pending: pendB}},
			lines: []string{"genai-os: slot booted=B active=A trial=B left=2 version=2.0"}, trial: true},
		{name: "trial passes", in: Input{Env: *env(ab.A, ab.B, 2, false), Booted: ab.B, Version: "2.0", State: ab.State{Pending: pendB}, Checks: ok},
			env: env(ab.B, "", 0, true), state: result(ab.B, "2.0", ab.Committed, ""),
			lines: []string{"genai-os: update committed slot=B version=2.0"}},
		{name: "trial fails", in: Input{Env: *env(ab.A, ab.B, 1, false), Booted: ab.B, Version: "3.0", State: ab.State{Pending: pendB}, Checks: bad},
			env: env(ab.A, "", 0, false), state: result(ab.B, "3.0", ab.RolledBack, ReasonHealth), reboot: true,
			lines: []string{`genai-os: update rolled back slot=B version=3.0 reason=health detail="health.d/50-api: exit 1"`}},
		{name: "no GRUB decrement: never commit", in: Input{Env: *env(ab.A, ab.B, 3, false), Booted: ab.B, Version: "2.0", Checks: ok},
			env: env(ab.A, "", 0, false), state: result(ab.B, "2.0", ab.RolledBack, ReasonHealth), reboot: true,
			lines: []string{`genai-os: update rolled back slot=B version=2.0 reason=health detail="GRUB did not count this trial boot (left=3 of 3`}},
		{name: "five tries configured: left=3 was counted", in: Input{Env: *env(ab.A, ab.B, 3, false), Booted: ab.B, Version: "2.0", Tries: 5, Checks: ok},
			env: env(ab.B, "", 0, true), state: result(ab.B, "2.0", ab.Committed, ""),
			lines: []string{"genai-os: update committed slot=B version=2.0"}},
		{name: "tries used up", in: Input{Env: *env(ab.A, "", 0, true), Booted: ab.A, Version: "1.0", State: ab.State{Pending: pendB}},
			env: env(ab.A, "", 0, false), state: result(ab.B, "2.0", ab.RolledBack, ReasonTries),
			lines: []string{"genai-os: slot booted=A active=A trial=none left=0 version=1.0", `genai-os: update rolled back slot=B version=2.0 reason=tries detail="`}},
		{name: "tries used up, env already clean", in: Input{Env: *env(ab.A, "", 0, false), Booted: ab.A, Version: "1.0", State: ab.State{Pending: pendB}},
			state: result(ab.B, "2.0", ab.RolledBack, ReasonTries),
			lines: []string{"genai-os: slot booted=A", "genai-os: update rolled back slot=B version=2.0 reason=tries"}},
		{name: "GRUB fell back", in: Input{Env: *env(ab.A, ab.B, 2, true), Booted: ab.A, Version: "1.0", State: ab.State{Pending: pendB}},
			env: env(ab.A, "", 0, false), state: result(ab.B, "2.0", ab.RolledBack, ReasonFallback),
			lines: []string{"genai-os: slot booted=A active=A trial=B left=2", "genai-os: update rolled back slot=B version=2.0 reason=fallback"}},
		{name: "commit cut before the record", in: Input{Env: *env(ab.B, "", 0, true), Booted: ab.B, Version: "2.0", State: ab.State{Pending: pendB}},
			state: result(ab.B, "2.0", ab.Committed, ""), lines: []string{"genai-os: slot booted=B active=B"}, logHint: "completed"},
		{name: "committed slot fails its checks: logged only", in: Input{Env: *env(ab.B, "", 0, true), Booted: ab.B, Version: "2.0", Checks: bad},
			logHint: "nothing done"},
		{name: "committed slot passes", in: Input{Env: *env(ab.B, "", 0, true), Booted: ab.B, Version: "2.0", Checks: ok}},
		{name: "GRUB fell back from the committed slot", in: Input{Env: *env(ab.B, "", 0, true), Booted: ab.A, Version: "1.0"},
			lines: []string{"genai-os: slot booted=A active=B"}, logHint: "fell back"},
		{name: "record of an old rollback stays", in: Input{Env: *env(ab.A, "", 0, false), Booted: ab.A, Version: "1.0", State: *result(ab.B, "3.0", ab.RolledBack, ReasonHealth)},
			lines: []string{"genai-os: slot booted=A"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.in.Now = now
			out := Decide(c.in)
			if out.State != nil && out.State.Last != nil && out.State.Last.Outcome == ab.RolledBack {
				// the record keeps what the line says failed
				if out.State.Last.Detail == "" || !strings.Contains(out.Lines[len(out.Lines)-1], out.State.Last.Detail) {
					t.Errorf("record's detail %q is not the line's %q", out.State.Last.Detail, out.Lines)
				}
				out.State.Last.Detail = ""
			}
			if !reflect.DeepEqual(out.Env, c.env) {
				t.Errorf("env %+v, want %+v", out.Env, c.env)
			}
			if !reflect.DeepEqual(out.State, c.state) {
				t.Errorf("state %+v, want %+v", deref(out.State), deref(c.state))
			}
			if len(out.Lines) != len(c.lines) {
				t.Fatalf("lines %q, want prefixes %q", out.Lines, c.lines)
			}
			for i, l := range out.Lines {
				if !strings.HasPrefix(l, c.lines[i]) {
					t.Errorf("line %d %q, want prefix %q", i, l, c.lines[i])
				}
			}
			if out.Trial != c.trial || out.Reboot != c.reboot {
				t.Errorf("trial=%v reboot=%v, want %v %v", out.Trial, out.Reboot, c.trial, c.reboot)
			}
			if c.logHint != "" && !strings.Contains(strings.Join(out.Log, "\n"), c.logHint) {
				t.Errorf("log %q, want %q in it", out.Log, c.logHint)
			}
			if out.Env != nil {
				if err := out.Env.Validate(); err != nil {
					t.Errorf("env written is invalid: %v", err)
				}
			}
		})
	}
}

func deref(s *ab.State) any {
	if s == nil {
		return nil
	}
	return struct {
		P *ab.Attempt
		L *ab.Result
	}{s.Pending, s.Last}
}
