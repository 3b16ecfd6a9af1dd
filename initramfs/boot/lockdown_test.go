package boot

import "testing"

func TestParseLockdown(t *testing.T) {
	for in, want := range map[string]string{
		"[none] integrity confidentiality\n": "none",
		"none [integrity] confidentiality\n": "integrity",
		"none integrity [confidentiality]":   "confidentiality",
	} {
		if got, err := ParseLockdown(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "none integrity", "[]"} {
		if got, err := ParseLockdown(in); err == nil {
			t.Errorf("%q: %q, want an error", in, got)
		}
	}
}
