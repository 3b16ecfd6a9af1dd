package qemu

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestKeysFor(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want [][]string
		err  string
	}{
		{"ls -l\n", [][]string{{"l"}, {"s"}, {"spc"}, {"minus"}, {"l"}, {"ret"}}, ""},
		{"A!?", [][]string{{"shift", "a"}, {"shift", "1"}, {"shift", "slash"}}, ""},
		{`printf '\e[41m'`, [][]string{{"p"}, {"r"}, {"i"}, {"n"}, {"t"}, {"f"}, {"spc"}, {"apostrophe"}, {"backslash"}, {"e"},
			{"bracket_left"}, {"4"}, {"1"}, {"m"}, {"apostrophe"}}, ""},
		{"~|\"{}<>_+:", [][]string{{"shift", "grave_accent"}, {"shift", "backslash"}, {"shift", "apostrophe"}, {"shift", "bracket_left"},
			{"shift", "bracket_right"}, {"shift", "comma"}, {"shift", "dot"}, {"shift", "minus"}, {"shift", "equal"}, {"shift", "semicolon"}}, ""},
		{"", nil, ""},
		{"café", nil, `no key types 'é' (byte 3 of "café")`},
	} {
		got, err := KeysFor(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("KeysFor(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("KeysFor(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestSendKeyChord: a malformed chord is refused before the machine is asked.
func TestSendKeyChord(t *testing.T) {
	var m Machine // no QMP socket: a chord that got that far would fail with ErrNoQMP
	for _, c := range []string{"", "ctrl--t", "-t", "ctrl-"} {
		if err := m.SendKey(context.Background(), c); err == nil || !strings.Contains(err.Error(), "want keys joined by -") {
			t.Errorf("SendKey(%q) = %v", c, err)
		}
	}
	if err := m.SendKey(context.Background(), "ctrl-alt-t"); err != ErrNoQMP {
		t.Errorf("SendKey(ctrl-alt-t) without QMP = %v, want ErrNoQMP", err)
	}
	if err := m.TypeString(context.Background(), "é"); err == nil || err == ErrNoQMP {
		t.Errorf("TypeString(é) = %v, want the key map's error first", err)
	}
}
