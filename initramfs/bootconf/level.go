// Package bootconf reads the init's boot configuration: /etc/consciousness/boot.conf
// and the kernel command line.
package bootconf

import (
	"fmt"
	"strconv"
	"strings"
)

// Level is a consciousness level in thousandths (0..1000), so that comparisons
// between a unit's ConsciousnessLevel= and the boot level are exact.
type Level int

// MaxLevel is 1.0.
const MaxLevel Level = 1000

// ParseLevel parses a decimal in [0.0, 1.0] with at most three fractional digits.
func ParseLevel(s string) (Level, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 3 || strings.ContainsAny(whole+frac, "+-eE") {
		return 0, fmt.Errorf("level %q: want a decimal from 0.0 to 1.0 (at most 3 decimals)", s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseUint(whole, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("level %q: want a decimal from 0.0 to 1.0", s)
	}
	f := uint64(0)
	if frac != "" {
		f, err = strconv.ParseUint((frac + "00")[:3], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("level %q: want a decimal from 0.0 to 1.0", s)
		}
	}
	l := Level(w*1000 + f)
	if l > MaxLevel {
		return 0, fmt.Errorf("level %q: above 1.0", s)
	}
	return l, nil
}

// String formats the level with at least one decimal: 0.0, 0.7, 0.75, 1.0.
func (l Level) String() string {
	s := fmt.Sprintf("%d.%03d", int(l)/1000, int(l)%1000)
	s = strings.TrimRight(s, "0")
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	return s
}
