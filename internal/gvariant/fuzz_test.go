package gvariant

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse: whatever parses serialises to bytes that decode to the same value, and (without
// maybes, whose printed form is ambiguous when nested) prints to text that parses back to it.
func FuzzParse(f *testing.F) {
	for _, s := range [][2]string{{"as", "['a', 'b']"}, {"a(ss)", "[('x', 'y')]"}, {"(bdddd)", "(true, 1, 2, 3, 4.5)"},
		{"a{sv}", "{}"}, {"ms", "nothing"}, {"a((auss)u)", "[(([1], 'a', 'b'), 2)]"}, {"s", `"\u00e9\n"`}, {"d", "-inf"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, typ, text string) {
		v, err := Parse(typ, text)
		if err != nil {
			return
		}
		b := v.Bytes()
		back, err := Decode(typ, b)
		if err != nil {
			t.Fatalf("Parse(%q, %q) = %v serialises to %x, which does not decode: %v", typ, text, v, b, err)
		}
		if !bytes.Equal(back.Bytes(), b) {
			t.Fatalf("%v: decoded to %v", v, back)
		}
		if strings.Contains(typ, "m") {
			return
		}
		again, err := Parse(typ, v.String())
		if err != nil || !bytes.Equal(again.Bytes(), b) {
			t.Fatalf("%v prints as %q, which parses to %v (%v)", v, v.String(), again, err)
		}
	})
}

// FuzzDecode: no input makes the decoder panic, and what it accepts re-serialises to a value
// that decodes the same.
func FuzzDecode(f *testing.F) {
	f.Add("a(si)", []byte("\x68\x69\x00\x00\xfe\xff\xff\xff\x03\x00\x00\x00bye\x00\xff\xff\xff\xff\x04\x09\x15"))
	f.Add("v", []byte("a\x00\x00\x00\x01\x00\x00\x00\x02\x00(su)"))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		v, err := Decode(typ, data)
		if err != nil {
			return
		}
		again, err := Decode(typ, v.Bytes())
		if err != nil || again.String() != v.String() {
			t.Fatalf("%v re-serialises to %x, which decodes to %v (%v)", v, v.Bytes(), again, err)
		}
	})
}
