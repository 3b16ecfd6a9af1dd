package gvariant

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value is one GVariant value of a definite type. Build it with the constructors; the zero Value
// is invalid.
type Value struct {
	typ      string
	num      uint64  // b y n q i u x t h: the bits of the integer (signed ones sign-extended)
	float    float64 // d
	str      string  // s o g
	children []Value // a m ( { v: elements, the maybe's one child, members, the variant's value
}

// Type is the value's type string.
func (v Value) Type() string { return v.typ }

func Bool(b bool) Value {
	if b {
		return Value{typ: "b", num: 1}
	}
	return Value{typ: "b"}
}
func Byte(x uint8) Value     { return Value{typ: "y", num: uint64(x)} }
func Int16(x int16) Value    { return Value{typ: "n", num: uint64(x)} }
func Uint16(x uint16) Value  { return Value{typ: "q", num: uint64(x)} }
func Int32(x int32) Value    { return Value{typ: "i", num: uint64(x)} }
func Uint32(x uint32) Value  { return Value{typ: "u", num: uint64(x)} }
func Int64(x int64) Value    { return Value{typ: "x", num: uint64(x)} }
func Uint64(x uint64) Value  { return Value{typ: "t", num: x} }
func Double(x float64) Value { return Value{typ: "d", float: x} }
func String(s string) Value  { return Value{typ: "s", str: s} }

// Variant boxes v into a value of type "v".
func Variant(v Value) Value { return Value{typ: "v", children: []Value{v}} }

// Tuple makes a tuple of the members, in order.
func Tuple(members ...Value) Value {
	t := "("
	for _, m := range members {
		t += m.typ
	}
	return Value{typ: t + ")", children: members}
}

// DictEntry makes a dictionary entry {key, value}; key must have a basic type.
func DictEntry(key, value Value) (Value, error) {
	t := "{" + key.typ + value.typ + "}"
	if err := ValidType(t); err != nil {
		return Value{}, err
	}
	return Value{typ: t, children: []Value{key, value}}, nil
}

// Array makes an array of elements of type elem.
func Array(elem string, elems ...Value) (Value, error) {
	if err := ValidType(elem); err != nil {
		return Value{}, err
	}
	for _, e := range elems {
		if e.typ != elem {
			return Value{}, fmt.Errorf("array of %s: element of type %s", elem, e.typ)
		}
	}
	return Value{typ: "a" + elem, children: elems}, nil
}

// Nothing is the empty maybe of type "m"+elem; Just holds one value.
func Nothing(elem string) Value { return Value{typ: "m" + elem} }
func Just(v Value) Value        { return Value{typ: "m" + v.typ, children: []Value{v}} }

// Children returns the elements of an array, the members of a tuple or dictionary entry, the
// content of a maybe (none or one) or of a variant (one).
func (v Value) Children() []Value { return v.children }

// Str returns the string of an s, o or g value; Float a d value's number.
func (v Value) Str() string     { return v.str }
func (v Value) Float() float64  { return v.float }
func (v Value) Int() int64      { return int64(v.num) }
func (v Value) Uint() uint64    { return v.num }
func (v Value) Boolean() bool   { return v.num != 0 }
func (v Value) isSigned() bool  { return strings.IndexByte("nixh", v.typ[0]) >= 0 }
func (v Value) isInteger() bool { return strings.IndexByte("ynqiuxth", v.typ[0]) >= 0 }

// Compare orders two numbers of the same type (as g_variant_compare does for them); ok is false
// for other types.
func Compare(a, b Value) (c int, ok bool) {
	if a.typ != b.typ || len(a.typ) != 1 {
		return 0, false
	}
	switch {
	case a.typ == "d":
		return cmp3(a.float < b.float, a.float > b.float), true
	case a.isSigned():
		return cmp3(int64(a.num) < int64(b.num), int64(a.num) > int64(b.num)), true
	case a.isInteger():
		return cmp3(a.num < b.num, a.num > b.num), true
	}
	return 0, false
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

// String prints v in the text format, the way g_variant_print(v, FALSE) does for the common
// cases: integers in decimal, doubles with a point, strings single-quoted.
func (v Value) String() string {
	var b strings.Builder
	v.print(&b)
	return b.String()
}

func (v Value) print(b *strings.Builder) {
	switch c := v.typ[0]; {
	case c == 'b':
		b.WriteString(strconv.FormatBool(v.num != 0))
	case v.isSigned():
		b.WriteString(strconv.FormatInt(int64(v.num), 10))
	case v.isInteger():
		b.WriteString(strconv.FormatUint(v.num, 10))
	case c == 'd':
		s := strconv.FormatFloat(v.float, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		b.WriteString(s)
	case c == 's' || c == 'o' || c == 'g':
		b.WriteString(quote(v.str))
	case c == 'v':
		b.WriteByte('<')
		v.children[0].print(b)
		b.WriteByte('>')
	case c == 'm':
		if len(v.children) == 0 {
			b.WriteString("nothing")
		} else {
			v.children[0].print(b)
		}
	case c == 'a' && v.typ[1] == '{':
		b.WriteByte('{')
		for i, e := range v.children {
			if i > 0 {
				b.WriteString(", ")
			}
			e.children[0].print(b)
			b.WriteString(": ")
			e.children[1].print(b)
		}
		b.WriteByte('}')
	case c == 'a':
		b.WriteByte('[')
		for i, e := range v.children {
			if i > 0 {
				b.WriteString(", ")
			}
			e.print(b)
		}
		b.WriteByte(']')
	default: // ( {
		open, end := "(", ")"
		if c == '{' {
			open, end = "{", "}"
		}
		b.WriteString(open)
		for i, e := range v.children {
			if i > 0 {
				b.WriteString(", ")
			}
			e.print(b)
		}
		if c == '(' && len(v.children) == 1 {
			b.WriteByte(',')
		}
		b.WriteString(end)
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Bytes is v's serialised form, in normal form, little-endian (spec §2).
func (v Value) Bytes() []byte {
	var out []byte
	switch c := v.typ[0]; c {
	case 'b', 'y':
		return []byte{byte(v.num)}
	case 'n', 'q':
		return binary.LittleEndian.AppendUint16(out, uint16(v.num))
	case 'i', 'u', 'h':
		return binary.LittleEndian.AppendUint32(out, uint32(v.num))
	case 'x', 't':
		return binary.LittleEndian.AppendUint64(out, v.num)
	case 'd':
		return binary.LittleEndian.AppendUint64(out, math.Float64bits(v.float))
	case 's', 'o', 'g':
		return append([]byte(v.str), 0) // strings end in a nul byte (spec §2.3.3)
	case 'v':
		// child, a zero byte, then the child's type string (spec §2.5.5 "Variants")
		out = append(v.children[0].Bytes(), 0)
		return append(out, v.children[0].typ...)
	case 'm':
		// Nothing is empty; Just is the child, plus a zero byte when the child's size is
		// variable (spec §2.5.2 "Maybes").
		if len(v.children) == 0 {
			return nil
		}
		out = v.children[0].Bytes()
		if fixedSize(v.typ[1:]) == 0 {
			out = append(out, 0)
		}
		return out
	case 'a':
		elem := v.typ[1:]
		if fixedSize(elem) != 0 {
			for _, e := range v.children {
				out = append(out, e.Bytes()...)
			}
			return out
		}
		// variable-size elements: each aligned, then the end offset of each (spec §2.5.3)
		ends := make([]int, 0, len(v.children))
		for _, e := range v.children {
			out = pad(out, alignment(elem))
			out = append(out, e.Bytes()...)
			ends = append(ends, len(out))
		}
		return appendOffsets(out, ends)
	default: // tuples and dictionary entries (spec §2.5.4 "Structures")
		var ends []int
		for i, m := range v.children {
			out = pad(out, alignment(m.typ))
			out = append(out, m.Bytes()...)
			if fixedSize(m.typ) == 0 && i != len(v.children)-1 {
				ends = append(ends, len(out))
			}
		}
		if size := fixedSize(v.typ); size != 0 {
			return append(out, make([]byte, size-len(out))...)
		}
		// framing offsets of the non-last variable-size members, stored in reverse order
		for i, j := 0, len(ends)-1; i < j; i, j = i+1, j-1 {
			ends[i], ends[j] = ends[j], ends[i]
		}
		return appendOffsets(out, ends)
	}
}

func pad(b []byte, a int) []byte { return append(b, make([]byte, align(len(b), a)-len(b))...) }

// offsetSize is the width of a container's framing offsets: the smallest of 0, 1, 2, 4 and 8
// bytes that can address the whole container (spec §2.3.6 "Framing Offsets").
func offsetSize(total int) int {
	switch {
	case total == 0:
		return 0
	case total <= math.MaxUint8:
		return 1
	case total <= math.MaxUint16:
		return 2
	case uint64(total) <= math.MaxUint32:
		return 4
	}
	return 8
}

func appendOffsets(body []byte, ends []int) []byte {
	if len(ends) == 0 {
		return body
	}
	size := 1
	for offsetSize(len(body)+len(ends)*size) > size {
		size *= 2
	}
	for _, e := range ends {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], uint64(e))
		body = append(body, w[:size]...)
	}
	return body
}
