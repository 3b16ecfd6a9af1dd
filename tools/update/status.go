package update

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/iso"
)

// Status is the device's A/B state: both slots, the boot state and the update record.
type Status struct {
	Booted  ab.Slot      `json:"booted,omitempty"` // "" when the command line names none
	Active  ab.Slot      `json:"active"`
	Trial   ab.Slot      `json:"trial,omitempty"`
	Left    int          `json:"left"`
	SpareOK bool         `json:"spare_ok"`
	Slots   []SlotStatus `json:"slots"`
	Pending *ab.Attempt  `json:"pending,omitempty"`
	Last    *ab.Result   `json:"last,omitempty"`
}

// SlotStatus is one slot.
type SlotStatus struct {
	Slot    ab.Slot `json:"slot"`
	Device  string  `json:"device"`
	Version string  `json:"version,omitempty"`
	BuildID string  `json:"build_id,omitempty"`
	Booted  bool    `json:"booted"`
	Active  bool    `json:"active"`
	Trial   bool    `json:"trial"`
	// Bad: neither committed nor on trial, and the boot state says it holds no complete, verified
	// system (spare_ok=0): the boot loader never falls back to it.
	Bad bool `json:"bad"`
	// Note says why the version is unknown.
	Note string `json:"note,omitempty"`
}

// slotBuild is what a slot's genai/build.json says of itself.
type slotBuild struct {
	Version string `json:"version"`
	BuildID string `json:"build_id"`
}

// Status reads the boot state, each slot's build record and the update record.
func (s System) Status() (*Status, error) {
	st := &Status{}
	booted, bootErr := s.booted()
	var disk ab.Disk
	var err error
	if bootErr == nil {
		st.Booted = booted
		disk, err = s.disk(booted)
	} else {
		disk, err = ab.FindDiskBySlot(s.SysBlock, s.DevDir, ab.A)
	}
	if err != nil {
		return nil, err
	}
	store, err := ab.OpenStore(disk.ESP)
	if err != nil {
		return nil, err
	}
	env, _, err := store.Read()
	store.Close()
	if err != nil {
		return nil, err
	}
	st.Active, st.Trial, st.Left, st.SpareOK = env.Active, env.Trial, env.Left, env.SpareOK
	for _, slot := range []ab.Slot{ab.A, ab.B} {
		ss := SlotStatus{Slot: slot, Device: disk.Slot(slot), Booted: slot == st.Booted, Active: slot == env.Active, Trial: slot == env.Trial}
		ss.Bad = !ss.Active && !ss.Trial && !env.SpareOK
		var b slotBuild
		data, err := iso.ReadFile(ss.Device, "genai/build.json")
		if err == nil {
			err = json.Unmarshal(data, &b)
		}
		switch {
		case err == nil:
			ss.Version, ss.BuildID = b.Version, b.BuildID
		case ss.Booted:
			if _, v, rerr := s.running(); rerr == nil {
				ss.Version = v
			} else {
				ss.Note = "version unknown: " + oneLine(err)
			}
		default:
			ss.Note = "no system readable (empty, or an incomplete write)"
		}
		st.Slots = append(st.Slots, ss)
	}
	rec, err := ab.LoadState(s.DataDir)
	if err != nil {
		return nil, err
	}
	st.Pending, st.Last = rec.Pending, rec.Last
	return st, nil
}

// WriteJSON writes the status as one JSON object.
func (st *Status) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// WriteText writes the status for a person.
func (st *Status) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, ss := range st.Slots {
		var what []string
		if ss.Booted {
			what = append(what, "booted")
		}
		if ss.Active {
			what = append(what, "committed")
		}
		if ss.Trial {
			what = append(what, fmt.Sprintf("on trial (%d tries left)", st.Left))
		}
		if ss.Bad {
			what = append(what, "bad (spare_ok=0: no complete verified system)")
		}
		if !ss.Active && !ss.Trial && !ss.Bad {
			what = append(what, "spare (the boot loader's fallback)")
		}
		v := ss.Version
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(&b, "slot %s  %-12s version %-10s %s\n", ss.Slot, ss.Device, v, strings.Join(what, ", "))
		if ss.Note != "" {
			fmt.Fprintf(&b, "        %s\n", ss.Note)
		}
	}
	if p := st.Pending; p != nil {
		fmt.Fprintf(&b, "pending: slot %s version %s, installed %s: reboot to try it\n", p.Slot, p.Version, p.Installed.Format(time.RFC3339))
	}
	if l := st.Last; l != nil {
		fmt.Fprintf(&b, "last update: %s slot=%s version=%s at %s", l.Outcome, l.Slot, l.Version, l.Time.Format(time.RFC3339))
		if l.Reason != "" {
			fmt.Fprintf(&b, " (%s)", l.Reason)
		}
		b.WriteString("\n")
		if l.Detail != "" {
			fmt.Fprintf(&b, "        %s\n", l.Detail)
		}
	} else {
		b.WriteString("last update: none\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
