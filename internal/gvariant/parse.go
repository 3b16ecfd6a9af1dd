package gvariant

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse reads text as a value of type t, as g_variant_parse(t, text) does for the subset of the
// text format GSettings schemas use: booleans, numbers, quoted strings, arrays, dictionaries,
// tuples, dictionary entries, maybes (nothing, just), "@type" annotations and type keywords
// ("uint32 5"). It refuses variants ("<...>"), byte strings (b'...'), and any other syntax with
// an error naming the offset.
func Parse(t, text string) (Value, error) {
	if err := ValidType(t); err != nil {
		return Value{}, err
	}
	p := &parser{s: text}
	v, err := p.value(t, 0)
	if err != nil {
		return Value{}, err
	}
	p.space()
	if p.i != len(p.s) {
		return Value{}, p.errorf("unexpected %q after the value", p.rest())
	}
	return v, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *parser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r\f\v", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *parser) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) expect(c byte) error {
	if p.peek() != c {
		return p.errorf("want %q, got %q", c, p.rest())
	}
	p.i++
	return nil
}

// word reads a token of letters, digits and "+-._" (a number or a keyword).
func (p *parser) word() string {
	p.space()
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+-._", c) >= 0) {
			break
		}
		j++
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

// keywords are the type keywords of the text format, each naming a basic type.
var keywords = map[string]string{"boolean": "b", "byte": "y", "int16": "n", "uint16": "q", "int32": "i",
	"uint32": "u", "int64": "x", "uint64": "t", "handle": "h", "double": "d", "string": "s",
	"objectpath": "o", "signature": "g"}

func (p *parser) value(t string, depth int) (Value, error) {
	if depth > 128 {
		return Value{}, p.errorf("nested too deeply")
	}
	switch c := p.peek(); {
	case c == '@':
		p.i++
		p.space()
		n, err := typeLen(p.s[p.i:], 0)
		if err != nil {
			return Value{}, p.errorf("type annotation: %v", err)
		}
		if got := p.s[p.i : p.i+n]; got != t {
			return Value{}, p.errorf("annotated type %s, want %s", got, t)
		}
		p.i += n
		return p.value(t, depth+1)
	case c >= 'a' && c <= 'z':
		save := p.i
		w := p.word()
		if kt, ok := keywords[w]; ok {
			if kt != t {
				return Value{}, p.errorf("keyword %s gives type %s, want %s", w, kt, t)
			}
			return p.value(t, depth+1)
		}
		p.i = save
	}
	if t[0] == 'm' {
		save := p.i
		switch p.word() {
		case "nothing":
			return Nothing(t[1:]), nil
		case "just":
			v, err := p.value(t[1:], depth+1)
			return Just(v), err
		}
		p.i = save
		v, err := p.value(t[1:], depth+1)
		return Just(v), err
	}
	switch t[0] {
	case 'b':
		switch w := p.word(); w {
		case "true":
			return Bool(true), nil
		case "false":
			return Bool(false), nil
		default:
			return Value{}, p.errorf("want true or false, got %q", w)
		}
	case 'd':
		w := p.word()
		if strings.Contains(w, "_") {
			return Value{}, p.errorf("invalid number %q", w)
		}
		f, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return Value{}, p.errorf("invalid number %q", w)
		}
		return Double(f), nil
	case 'y', 'n', 'q', 'i', 'u', 'x', 't', 'h':
		return p.integer(t)
	case 's', 'o', 'g':
		s, err := p.str()
		return Value{typ: t, str: s}, err
	case 'a':
		return p.array(t, depth)
	case '(':
		return p.tuple(t, depth)
	case '{':
		if err := p.expect('{'); err != nil {
			return Value{}, err
		}
		e, err := p.entry(t, ',', depth)
		if err != nil {
			return Value{}, err
		}
		return e, p.expect('}')
	}
	return Value{}, p.errorf("values of type %s are not supported", t)
}

// CInteger reads s, an optional minus sign then a decimal, 0x hexadecimal or 0-prefixed octal
// number, as C's strtoull(s, &end, 0) with nothing left after it; GLib's text parser reads
// integers this way, and glib-compile-schemas its enum values.
func CInteger(s string) (abs uint64, neg, ok bool) {
	neg = strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	base := 10
	switch {
	case strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X"):
		base, digits = 16, digits[2:]
	case len(digits) > 1 && digits[0] == '0':
		base, digits = 8, digits[1:]
	}
	abs, err := strconv.ParseUint(digits, base, 64) // with an explicit base: no sign, no '_'
	return abs, neg, err == nil && digits != ""
}

// integer reads an integer (CInteger) and checks the type's range.
func (p *parser) integer(t string) (Value, error) {
	w := p.word()
	abs, neg, ok := CInteger(w)
	if !ok {
		return Value{}, p.errorf("invalid integer %q for type %s", w, t)
	}
	var lo int64
	var hi uint64
	switch t {
	case "y":
		hi = math.MaxUint8
	case "n":
		lo, hi = math.MinInt16, math.MaxInt16
	case "q":
		hi = math.MaxUint16
	case "i", "h":
		lo, hi = math.MinInt32, math.MaxInt32
	case "u":
		hi = math.MaxUint32
	case "x":
		lo, hi = math.MinInt64, math.MaxInt64
	case "t":
		hi = math.MaxUint64
	}
	if neg && abs != 0 {
		if lo == 0 || abs > uint64(-(lo+1))+1 {
			return Value{}, p.errorf("%s out of range for type %s", w, t)
		}
		return Value{typ: t, num: uint64(-int64(abs-1) - 1)}, nil
	}
	if abs > hi {
		return Value{}, p.errorf("%s out of range for type %s", w, t)
	}
	return Value{typ: t, num: abs}, nil
}

// str reads a single- or double-quoted string with the text format's escapes.
func (p *parser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errorf("want a quoted string, got %q", p.rest())
	}
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			if !utf8.ValidString(b.String()) {
				return "", p.errorf("string is not valid UTF-8")
			}
			return b.String(), nil
		case c == 0:
			return "", p.errorf("nul byte in string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case 'u', 'U':
			n := 4
			if e == 'U' {
				n = 8
			}
			if p.i+n > len(p.s) {
				return "", p.errorf("short \\%c escape", e)
			}
			r, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
			if err != nil || r == 0 || r > utf8.MaxRune || !utf8.ValidRune(rune(r)) {
				return "", p.errorf("invalid \\%c escape %q", e, p.s[p.i:p.i+n])
			}
			b.WriteRune(rune(r))
			p.i += n
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\n': // a line continuation
		default:
			b.WriteByte(e) // \\ \' \" and any other character stand for themselves
		}
	}
}

// entry reads a dictionary entry's key, the separator (',' in {k, v}, ':' in {k: v, ...}) and
// its value.
func (p *parser) entry(t string, sep byte, depth int) (Value, error) {
	m := members(t)
	k, err := p.value(m[0], depth+1)
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(sep); err != nil {
		return Value{}, err
	}
	v, err := p.value(m[1], depth+1)
	if err != nil {
		return Value{}, err
	}
	return Value{typ: t, children: []Value{k, v}}, nil
}

// array reads [e, ...], or {k: v, ...} for an array of dictionary entries.
func (p *parser) array(t string, depth int) (Value, error) {
	elem := t[1:]
	open, end := byte('['), byte(']')
	next := func() (Value, error) { return p.value(elem, depth+1) }
	if elem[0] == '{' && p.peek() == '{' {
		open, end = '{', '}'
		next = func() (Value, error) { return p.entry(elem, ':', depth) }
	}
	if err := p.expect(open); err != nil {
		return Value{}, err
	}
	out := Value{typ: t, children: []Value{}}
	for p.peek() != end {
		if len(out.children) > 0 {
			if err := p.expect(','); err != nil {
				return Value{}, err
			}
		}
		v, err := next()
		if err != nil {
			return Value{}, err
		}
		out.children = append(out.children, v)
	}
	p.i++
	return out, nil
}

func (p *parser) tuple(t string, depth int) (Value, error) {
	if err := p.expect('('); err != nil {
		return Value{}, err
	}
	m := members(t)
	out := Value{typ: t, children: []Value{}}
	for i, mt := range m {
		if i > 0 {
			if err := p.expect(','); err != nil {
				return Value{}, err
			}
		}
		v, err := p.value(mt, depth+1)
		if err != nil {
			return Value{}, err
		}
		out.children = append(out.children, v)
	}
	if len(m) == 1 {
		if err := p.expect(','); err != nil { // a 1-tuple is written (x,)
			return Value{}, err
		}
	}
	return out, p.expect(')')
}
