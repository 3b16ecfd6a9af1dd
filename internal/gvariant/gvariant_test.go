package gvariant

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestBytes: serialised forms from the examples of the GVariant specification (§3, "Examples"),
// and normal-form framing details.
func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		typ, text, hex string
	}{
		{"s", `"hello world"`, "68656c6c6f20776f726c6400"},
		{"ms", `just 'hello world'`, "68656c6c6f20776f726c640000"},
		{"ab", `[true, false, false, true, true]`, "0100000101"},
		{"(si)", `("foo", -1)`, "666f6f00ffffffff04"},
		{"a(si)", `[("hi", -2), ("bye", -1)]`, "68690000feffffff03000000" + "62796500ffffffff04" + "0915"},
		{"as", `["i", "can", "has", "strings?"]`, "6900" + "63616e00" + "68617300" + "737472696e67733f00" + "02060a13"},
		{"a{sv}", `{}`, ""},
		{"(yy)", `(1, 2)`, "0102"},
		{"(iy)", `(-1, 1)`, "ffffffff01000000"},
		{"()", `()`, "00"},
		{"ai", `[4, 258]`, "0400000002010000"},
		{"(ii)", `(-1, -1)`, "ffffffffffffffff"},
		{"mi", `nothing`, ""},
		{"mi", `7`, "07000000"},
		{"(bdddd)", `(false,1.0,1.0,1.0,1.0)`, "0000000000000000000000000000f03f000000000000f03f000000000000f03f000000000000f03f"},
		{"u", "uint32 017", "0f000000"},
		{"n", "-32768", "0080"},
		{"t", "18446744073709551615", "ffffffffffffffff"},
		{"a{ss}", `{'k': 'v'}`, "6b0076000205"}, // entry "k\0v\0" + key's end 02; the array's end offset 05
	} {
		v, err := Parse(tc.typ, tc.text)
		if err != nil {
			t.Errorf("Parse(%s, %s): %v", tc.typ, tc.text, err)
			continue
		}
		if got := hex.EncodeToString(v.Bytes()); got != tc.hex {
			t.Errorf("%s %s: serialised %s, want %s", tc.typ, tc.text, got, tc.hex)
		}
		back, err := Decode(tc.typ, v.Bytes())
		if err != nil || back.String() != v.String() {
			t.Errorf("%s %s: decoded %v (%v), want %v", tc.typ, tc.text, back, err, v)
		}
	}
}

// TestVariant: a variant is the child ("a", padding, 1, the string's end offset), a zero byte
// and the child's type (spec §2.5.5); large
// arrays widen their framing offsets (§2.3.6).
func TestVariant(t *testing.T) {
	v := Variant(Tuple(String("a"), Uint32(1)))
	if got := hex.EncodeToString(v.Bytes()); got != "61000000010000000200"+hex.EncodeToString([]byte("(su)")) {
		t.Errorf("variant: %s", got)
	}
	var elems []Value
	for i := 0; i < 100; i++ {
		elems = append(elems, String(strings.Repeat("x", 3)))
	}
	a, _ := Array("s", elems...)
	b := a.Bytes()
	if len(b) != 400+200 { // 100 × 4 bytes of strings, 100 offsets of 2 bytes
		t.Errorf("array of 100 strings: %d bytes, want 600", len(b))
	}
	back, err := Decode("as", b)
	if err != nil || len(back.Children()) != 100 {
		t.Errorf("decoding: %v, %d elements", err, len(back.Children()))
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ typ, text, want string }{
		{"y", "256", "out of range"},
		{"u", "-1", "out of range"},
		{"i", "1.5", "invalid integer"},
		{"i", "1_000", "invalid integer"},
		{"s", "'open", "unterminated"},
		{"s", "uint32 5", "keyword uint32 gives type u"},
		{"as", "@ai []", "annotated type ai"},
		{"v", "<1>", "not supported"},
		{"(ss)", "('a')", "want ','"},
		{"b", "yes", "want true or false"},
		{"as", "['a'] x", "after the value"},
		{"a*", "[]", "unsupported type code"},
	} {
		_, err := Parse(tc.typ, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s, %s): %v, want an error with %q", tc.typ, tc.text, err, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	v, err := Parse("a{sv}", "{}")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := DictEntry(String("k"), Variant(Double(2)))
	d, _ := Array("{sv}", e)
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{v, "{}"},
		{d, "{'k': <2.0>}"},
		{Tuple(String("it's")), `('it\'s',)`},
		{Just(Int32(-3)), "-3"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("String: %s, want %s", got, tc.want)
		}
	}
}
