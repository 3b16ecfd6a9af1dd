// Package gvariant holds GLib's GVariant values: their types, their serialised (normal) form,
// their text form as GSettings schemas write defaults, and a decoder for tests.
//
// The specs: "GVariant Serialisation" (GLib's docs/reference/glib/gvariant-specification-1.0.rst,
// section 2) and "GVariant Text Format" (docs/reference/glib/gvariant-text-format.md). Only
// definite types are supported; '*', '?' and 'r' (indefinite types) are refused.
package gvariant

import "fmt"

// basic are the basic type codes (spec §1.2); a dictionary entry's key must be one of them.
const basic = "bynqiuxthdsog"

// ValidType reports whether t is exactly one complete definite type string.
func ValidType(t string) error {
	n, err := typeLen(t, 0)
	if err != nil {
		return err
	}
	if n != len(t) {
		return fmt.Errorf("type %q: %q after a complete type", t, t[n:])
	}
	return nil
}

// typeLen returns the length of the one complete type at the start of t.
func typeLen(t string, depth int) (int, error) {
	// The spec bounds container nesting at 128 levels (gvariant-specification §2.5.3 "Nesting").
	if depth > 128 {
		return 0, fmt.Errorf("type %q: nested too deeply", t)
	}
	if t == "" {
		return 0, fmt.Errorf("empty type")
	}
	switch c := t[0]; {
	case c == 'v' || indexByte(basic, c):
		return 1, nil
	case c == 'a' || c == 'm':
		n, err := typeLen(t[1:], depth+1)
		return n + 1, err
	case c == '(':
		i := 1
		for i < len(t) && t[i] != ')' {
			n, err := typeLen(t[i:], depth+1)
			if err != nil {
				return 0, err
			}
			i += n
		}
		if i >= len(t) {
			return 0, fmt.Errorf("type %q: unterminated tuple", t)
		}
		return i + 1, nil
	case c == '{':
		if len(t) < 2 || !indexByte(basic, t[1]) {
			return 0, fmt.Errorf("type %q: a dictionary entry's key must be a basic type", t)
		}
		n, err := typeLen(t[2:], depth+1)
		if err != nil {
			return 0, err
		}
		if 2+n >= len(t) || t[2+n] != '}' {
			return 0, fmt.Errorf("type %q: a dictionary entry holds exactly two types", t)
		}
		return 3 + n, nil
	default:
		return 0, fmt.Errorf("type %q: unsupported type code %q", t, c)
	}
}

func indexByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// members splits the inside of a tuple or dictionary entry type into its member types.
func members(t string) []string {
	var out []string
	inner := t[1 : len(t)-1]
	for inner != "" {
		n, _ := typeLen(inner, 0)
		out = append(out, inner[:n])
		inner = inner[n:]
	}
	return out
}

// alignment is the type's alignment in bytes (spec §2.3.1 and §2.5).
func alignment(t string) int {
	switch t[0] {
	case 'b', 'y', 's', 'o', 'g':
		return 1
	case 'n', 'q':
		return 2
	case 'i', 'u', 'h':
		return 4
	case 'x', 't', 'd', 'v':
		return 8
	case 'a', 'm':
		return alignment(t[1:])
	}
	a := 1 // tuples and dictionary entries: the largest of their members'
	for _, m := range members(t) {
		a = max(a, alignment(m))
	}
	return a
}

// fixedSize is the size of a fixed-size type, or 0 for a variable-size one (spec §2.3.2).
func fixedSize(t string) int {
	switch t[0] {
	case 'b', 'y':
		return 1
	case 'n', 'q':
		return 2
	case 'i', 'u', 'h':
		return 4
	case 'x', 't', 'd':
		return 8
	case '(', '{':
		off := 0
		for _, m := range members(t) {
			s := fixedSize(m)
			if s == 0 {
				return 0
			}
			off = align(off, alignment(m)) + s
		}
		if off == 0 {
			return 1 // the unit type "()" takes one byte (spec §2.5.4 "Structures")
		}
		return align(off, alignment(t))
	}
	return 0
}

func align(n, a int) int { return (n + a - 1) &^ (a - 1) }
