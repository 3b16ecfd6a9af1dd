// Package abboot decides what the init does with the A/B boot state: at boot (before the ready
// line) it reports the slot and notices a trial that GRUB ended (tries used up, or a fallback to
// the committed slot); after the health checks of a trial boot it commits the slot or rolls it
// back. Decide is a pure function of the boot state, the booted slot, the update record and the
// checks' result; the init reads and writes them (initramfs/README.md, "A/B systems").
package abboot

import (
	"fmt"
	"time"

	"github.com/genai-os/genai-build/internal/ab"
)

// DefaultTries is how many trial boots an update gets (genai-update sets genai_left to it): a
// trial boot that still sees this many left was not counted by GRUB.
const DefaultTries = ab.DefaultTries

// Reasons of a roll back (the console line's reason=).
const (
	ReasonHealth   = "health"
	ReasonTries    = "tries"
	ReasonFallback = "fallback"
)

// Input is what the init knows.
type Input struct {
	Env     ab.Env
	Booted  ab.Slot
	Version string // the booted system's version (os-release VERSION_ID)
	State   ab.State
	Tries   int // the configured tries; DefaultTries when 0
	Now     time.Time
	// Checks is nil at boot, before the ready line; after it, the health checks' result.
	Checks *Checks
}

// Checks is the result of a boot's health checks.
type Checks struct {
	OK     bool
	Detail string // what failed, for a person
}

// Output is what to do, in this order: write Env (when not nil) to the ESP, save State (when
// not nil) on /data, print Lines on the console, then reboot when Reboot is set. Env goes first:
// it decides the next boot, the record only reports (a cut between them is reconciled by the
// next boot's Decide).
type Output struct {
	Env    *ab.Env
	State  *ab.State
	Lines  []string // console lines of the contract
	Log    []string // for the log only
	Trial  bool     // this boot is a trial: arm the watchdog and run the checks that decide
	Reboot bool
}

// SlotLine is the line every A/B boot prints before its verdict.
func SlotLine(e ab.Env, booted ab.Slot, version string) string {
	return fmt.Sprintf("genai-os: slot booted=%s active=%s trial=%s left=%d version=%s",
		booted, e.Active, e.TrialName(), e.Left, orUnknown(version))
}

func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}

// Decide returns what to do at boot (in.Checks nil) or after the checks.
func Decide(in Input) Output {
	if in.Tries == 0 {
		in.Tries = DefaultTries
	}
	if in.Checks == nil {
		return atBoot(in)
	}
	return afterChecks(in)
}

func atBoot(in Input) Output {
	e, booted := in.Env, in.Booted
	out := Output{Lines: []string{SlotLine(e, booted, in.Version)}}
	other := booted.Other()
	pending := in.State.Pending
	switch {
	case e.Trial == booted:
		out.Trial = true
	case booted == e.Active && e.Trial == other:
		// GRUB booted the committed slot while the other was still on trial with tries left:
		// the trial's kernel or initrd did not load and GRUB's fallback entry ran.
		wentBack(&out, in, ReasonFallback, true, fmt.Sprintf("GRUB fell back to slot %s: slot %s did not boot", booted, other))
	case booted == e.Active && e.Trial == "" && pending != nil && pending.Slot == other:
		// The update was installed and set on trial, and GRUB has ended the trial: its tries
		// ran out (each trial boot failed before committing: health, panic or watchdog).
		wentBack(&out, in, ReasonTries, e.SpareOK || e.Left != 0, fmt.Sprintf("slot %s did not commit in its tries; back on slot %s", other, booted))
	case booted == e.Active && e.Trial == "" && pending != nil && pending.Slot == booted:
		// The commit wrote the boot state and was cut before the record: finish the record.
		st := ab.State{Last: &ab.Result{Slot: booted, Version: pendingVersion(pending, booted), Outcome: ab.Committed, Time: in.Now}}
		out.State = &st
		out.Log = append(out.Log, "update record completed: the boot state says committed")
	case booted != e.Active:
		out.Log = append(out.Log, fmt.Sprintf("booted slot %s is neither the committed slot %s nor on trial: GRUB fell back from the committed slot", booted, e.Active))
	}
	return out
}

func afterChecks(in Input) Output {
	e, booted, c := in.Env, in.Booted, in.Checks
	var out Output
	if e.Trial != booted {
		// A committed slot: a failed check is reported, never acted on (a reboot would come back
		// to the same slot, again and again).
		if !c.OK {
			out.Log = append(out.Log, "health checks failed on the committed slot (nothing done): "+c.Detail)
		}
		return out
	}
	ver := in.Version
	if ver == "" {
		ver = pendingVersion(in.State.Pending, booted)
	}
	ok, detail := c.OK, c.Detail
	if e.Left >= in.Tries {
		// GRUB decrements genai_left before each trial boot: if it still says the full count,
		// GRUB could not write the boot state, and a trial that is never counted could not end.
		ok, detail = false, fmt.Sprintf("GRUB did not count this trial boot (left=%d of %d tries): it cannot write the boot state", e.Left, in.Tries)
	}
	if ok {
		env := ab.Env{Active: booted, SpareOK: true}
		st := ab.State{Last: &ab.Result{Slot: booted, Version: ver, Outcome: ab.Committed, Time: in.Now}}
		out.Env, out.State = &env, &st
		out.Lines = []string{fmt.Sprintf("genai-os: update committed slot=%s version=%s", booted, ver)}
		return out
	}
	env := ab.Env{Active: e.Active}
	if e.Active == booted { // a trial of the committed slot itself: nothing to go back to
		env.Active = booted
	} else {
		out.Reboot = true
	}
	out.Env = &env
	out.State = rolledBack(in, booted, ver, ReasonHealth, detail)
	out.Lines = []string{rolledBackLine(booted, ver, ReasonHealth, detail)}
	return out
}

// wentBack reports, on the committed slot, that the other slot's trial ended without a commit:
// the record and the line, and (when clearEnv) a boot state with no trial and no spare.
func wentBack(out *Output, in Input, reason string, clearEnv bool, detail string) {
	other := in.Booted.Other()
	ver := pendingVersion(in.State.Pending, other)
	if clearEnv {
		out.Env = &ab.Env{Active: in.Booted}
	}
	out.State = rolledBack(in, other, ver, reason, detail)
	out.Lines = append(out.Lines, rolledBackLine(other, ver, reason, detail))
}

// rolledBack is the record after a roll back of slot s: no attempt pending, the last result.
func rolledBack(in Input, s ab.Slot, version, reason, detail string) *ab.State {
	return &ab.State{Last: &ab.Result{Slot: s, Version: version, Outcome: ab.RolledBack, Reason: reason, Detail: detail, Time: in.Now}}
}

func rolledBackLine(s ab.Slot, version, reason, detail string) string {
	return fmt.Sprintf("genai-os: update rolled back slot=%s version=%s reason=%s detail=%q", s, orUnknown(version), reason, detail)
}

func pendingVersion(p *ab.Attempt, s ab.Slot) string {
	if p != nil && p.Slot == s {
		return p.Version
	}
	return "unknown"
}
