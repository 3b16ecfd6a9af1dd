package qemu

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// usKeys maps the characters of a US keyboard layout to QEMU key codes (QKeyCode in QEMU's
// qapi/ui.json); a shifted character is shift plus its key, as openQA's type_string sends it.
var usKeys = func() map[rune][]string {
	m := map[rune][]string{' ': {"spc"}, '\n': {"ret"}, '\t': {"tab"}}
	for c := 'a'; c <= 'z'; c++ {
		m[c] = []string{string(c)}
		m[c-'a'+'A'] = []string{"shift", string(c)}
	}
	for c := '0'; c <= '9'; c++ {
		m[c] = []string{string(c)}
	}
	// key code, its character, and the character with shift
	for _, k := range []struct {
		code           string
		plain, shifted rune
	}{
		{"1", '1', '!'}, {"2", '2', '@'}, {"3", '3', '#'}, {"4", '4', '$'}, {"5", '5', '%'},
		{"6", '6', '^'}, {"7", '7', '&'}, {"8", '8', '*'}, {"9", '9', '('}, {"0", '0', ')'},
		{"minus", '-', '_'}, {"equal", '=', '+'}, {"bracket_left", '[', '{'}, {"bracket_right", ']', '}'},
		{"backslash", '\\', '|'}, {"semicolon", ';', ':'}, {"apostrophe", '\'', '"'},
		{"grave_accent", '`', '~'}, {"comma", ',', '<'}, {"dot", '.', '>'}, {"slash", '/', '?'},
	} {
		m[k.plain] = []string{k.code}
		m[k.shifted] = []string{"shift", k.code}
	}
	return m
}()

// KeysFor returns the key chords that type s on a US layout, one a character, or an error
// naming the first character no key gives.
func KeysFor(s string) ([][]string, error) {
	var chords [][]string
	for i, r := range s {
		keys, ok := usKeys[r]
		if !ok {
			return nil, fmt.Errorf("qemu: no key types %q (byte %d of %q) on a US layout", r, i, s)
		}
		chords = append(chords, keys)
	}
	return chords, nil
}

// SendKey presses a chord written as the monitor's sendkey takes it, keys joined by "-":
// SendKey(ctx, "ctrl-alt-t").
func (m *Machine) SendKey(ctx context.Context, chord string) error {
	if chord == "" || strings.Contains(chord, "--") || strings.HasPrefix(chord, "-") || strings.HasSuffix(chord, "-") {
		return fmt.Errorf("qemu: key chord %q: want keys joined by -, e.g. ctrl-alt-t", chord)
	}
	return m.SendKeys(ctx, strings.Split(chord, "-")...)
}

// typeHold is how long each key of TypeString is held, and the pause after it: QEMU queues the
// release after the hold (send-key's hold-time, default 100 ms), and a guest under TCG reading a
// PS/2 or USB keyboard keeps up with a key every 2×typeHold.
const typeHold = 30 * time.Millisecond

// TypeString types s on the machine's keyboard, one key chord a character on a US layout (see
// KeysFor), like openQA's type_string. Nothing is typed when s has a character no key gives.
func (m *Machine) TypeString(ctx context.Context, s string) error {
	chords, err := KeysFor(s)
	if err != nil {
		return err
	}
	return m.qmpSession(ctx, func(call qmpCall) error {
		for _, keys := range chords {
			if _, err := call("send-key", sendKeyArgs(keys, typeHold)); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * typeHold):
			}
		}
		return nil
	})
}
