package gschema

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/genai-os/genai-build/internal/gvariant"
)

// fileState is the parse of one schema file: the element stack and what is open.
type fileState struct {
	c        *compiler
	file     string
	stack    []string
	domain   string // the <schemalist>'s gettext-domain
	schema   *schema
	key      *key
	enum     *strinfo
	enumID   string
	isFlags  bool
	text     *strings.Builder // non-nil while inside <default>, <summary> or <description>
	line     int
	seenKeys map[string]bool
}

// parse reads one *.gschema.xml or *.enums.xml file into the compiler's tables.
func (c *compiler) parse(f File) error {
	s := &fileState{c: c, file: f.Name}
	d := xml.NewDecoder(bytes.NewReader(f.Data))
	d.Strict = true
	for {
		tok, err := d.Token()
		s.line, _ = d.InputPos()
		if err == io.EOF {
			if len(s.stack) != 0 {
				return s.errorf("", "document ends inside <%s>", s.stack[len(s.stack)-1])
			}
			return nil
		}
		if err != nil {
			return &Error{File: f.Name, Line: s.line, Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != "" || strings.Contains(t.Name.Local, ":") {
				return s.errorf("<"+t.Name.Local+">", "qualified (namespaced) elements: %w", ErrUnsupported)
			}
			attrs := map[string]string{}
			for _, a := range t.Attr {
				if a.Name.Space != "" {
					return s.errorf("<"+t.Name.Local+">", "qualified attribute %s:%s: %w", a.Name.Space, a.Name.Local, ErrUnsupported)
				}
				if _, dup := attrs[a.Name.Local]; dup {
					return s.errorf("<"+t.Name.Local+">", "attribute %q given twice", a.Name.Local)
				}
				attrs[a.Name.Local] = a.Value
			}
			if err := s.start(t.Name.Local, attrs); err != nil {
				return s.wrap("<"+t.Name.Local+">", err)
			}
			s.stack = append(s.stack, t.Name.Local)
		case xml.EndElement:
			name := s.stack[len(s.stack)-1]
			s.stack = s.stack[:len(s.stack)-1]
			if err := s.end(name); err != nil {
				return s.wrap("</"+name+">", err)
			}
		case xml.CharData:
			if s.text != nil {
				s.text.Write(t)
			} else if len(bytes.TrimLeft(t, " \t\n\r\f\v")) != 0 {
				el := "top level"
				if len(s.stack) > 0 {
					el = "<" + s.stack[len(s.stack)-1] + ">"
				}
				return s.errorf(el, "text may not appear here")
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			// not content: GMarkup passes them by too
		}
	}
}

func (s *fileState) errorf(element, format string, args ...any) error {
	return &Error{File: s.file, Line: s.line, Element: element, Err: fmt.Errorf(format, args...)}
}

func (s *fileState) wrap(element string, err error) error {
	return &Error{File: s.file, Line: s.line, Element: element, Err: err}
}

// collect checks an element's attributes against the required and optional names, as
// g_markup_collect_attributes does.
func collect(attrs map[string]string, required []string, optional ...string) error {
	for _, r := range required {
		if _, ok := attrs[r]; !ok {
			return fmt.Errorf("missing attribute %q", r)
		}
	}
	for a := range attrs {
		if !contains(required, a) && !contains(optional, a) {
			return fmt.Errorf("unexpected attribute %q", a)
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (s *fileState) start(el string, a map[string]string) error {
	container := ""
	if len(s.stack) > 0 {
		container = s.stack[len(s.stack)-1]
	}
	switch {
	case container == "" && el == "schemalist":
		s.domain = a["gettext-domain"]
		return collect(a, nil, "gettext-domain")
	case container == "schemalist" && el == "schema":
		if err := collect(a, []string{"id"}, "path", "gettext-domain", "extends", "list-of"); err != nil {
			return err
		}
		if _, ok := a["extends"]; ok {
			return fmt.Errorf("attribute extends: %w", ErrUnsupported)
		}
		if _, ok := a["list-of"]; ok {
			return fmt.Errorf("attribute list-of: %w", ErrUnsupported)
		}
		return s.startSchema(a["id"], a["path"], a["gettext-domain"])
	case container == "schemalist" && (el == "enum" || el == "flags"):
		if err := collect(a, []string{"id"}); err != nil {
			return err
		}
		table := s.c.enums
		if el == "flags" {
			table = s.c.flags
		}
		if _, dup := table[a["id"]]; dup {
			return fmt.Errorf("<%s id='%s'> already specified", el, a["id"])
		}
		s.enum, s.enumID, s.isFlags = new(strinfo), a["id"], el == "flags"
		return nil
	case container == "schema" && el == "key":
		if err := collect(a, []string{"name"}, "type", "enum", "flags"); err != nil {
			return err
		}
		return s.startKey(a)
	case container == "schema" && el == "child":
		if err := collect(a, []string{"name", "schema"}); err != nil {
			return err
		}
		if err := validName(a["name"]); err != nil {
			return err
		}
		name := a["name"] + "/"
		if _, dup := s.schema.keys[name]; dup {
			return fmt.Errorf("<child name='%s'> already specified", a["name"])
		}
		s.schema.keys[name] = &key{child: a["schema"]}
		s.schema.keyOrder = append(s.schema.keyOrder, name)
		return nil
	case container == "schema" && el == "override":
		return fmt.Errorf("<override> (schema inheritance): %w", ErrUnsupported)
	case container == "key" && el == "default":
		if err := collect(a, nil, "l10n", "context"); err != nil {
			return err
		}
		return s.startDefault(a)
	case container == "key" && (el == "summary" || el == "description"):
		s.text = &strings.Builder{} // read and dropped: only the tools that show them use them
		return collect(a, nil)
	case container == "key" && el == "range":
		if err := collect(a, nil, "min", "max"); err != nil {
			return err
		}
		return s.setRange(a)
	case container == "key" && el == "choices":
		if err := collect(a, nil); err != nil {
			return err
		}
		k := s.key
		switch {
		case k.isEnum:
			return errors.New("<choices> cannot be specified for keys tagged as having an enumerated type")
		case k.hasChoices:
			return errors.New("<choices> already specified for this key")
		case strings.TrimLeft(k.typ, "am") != "s":
			return fmt.Errorf("<choices> not allowed for keys of type %q", k.typ)
		}
		return nil
	case container == "key" && el == "aliases":
		if err := collect(a, nil); err != nil {
			return err
		}
		k := s.key
		switch {
		case k.hasAliases:
			return errors.New("<aliases> already specified for this key")
		case !k.isFlags && !k.isEnum && !k.hasChoices:
			return errors.New("<aliases> can only be specified for keys with enumerated or flags types or after <choices>")
		}
		return nil
	case container == "choices" && el == "choice":
		if err := collect(a, []string{"value"}); err != nil {
			return err
		}
		k := s.key
		if k.strinfo.contains(a["value"]) {
			return fmt.Errorf("<choice value='%s'/> already given", a["value"])
		}
		var ok bool
		if k.strinfo, ok = k.strinfo.appendItem(a["value"], 0); !ok {
			return fmt.Errorf("choice %q: longer than 65 bytes", a["value"])
		}
		k.hasChoices = true
		return nil
	case container == "aliases" && el == "alias":
		if err := collect(a, []string{"value", "target"}); err != nil {
			return err
		}
		return s.addAlias(a["value"], a["target"])
	case (container == "enum" || container == "flags") && el == "value":
		if err := collect(a, []string{"nick", "value"}); err != nil {
			return err
		}
		return s.addEnumValue(a["nick"], a["value"])
	}
	if container == "" {
		return fmt.Errorf("element <%s> not allowed at the top level", el)
	}
	return fmt.Errorf("element <%s> not allowed inside <%s>", el, container)
}

func (s *fileState) startSchema(id, path, domain string) error {
	if _, dup := s.c.schemas[id]; dup {
		return fmt.Errorf("<schema id='%s'> already specified", id)
	}
	if path != "" && !(strings.HasPrefix(path, "/") && strings.HasSuffix(path, "/")) {
		return errors.New("a path, if given, must begin and end with a slash")
	}
	if domain == "" {
		domain = s.domain
	}
	s.schema = &schema{id: id, path: path, domain: domain, keys: map[string]*key{}}
	s.c.schemas[id] = s.schema
	s.c.order = append(s.c.order, id)
	return nil
}

func (s *fileState) startKey(a map[string]string) error {
	name := a["name"]
	if err := validName(name); err != nil {
		return err
	}
	if _, dup := s.schema.keys[name]; dup {
		return fmt.Errorf("<key name='%s'> already specified", name)
	}
	typ, enum, flags := a["type"], a["enum"], a["flags"]
	n := 0
	for _, x := range []string{"type", "enum", "flags"} {
		if _, ok := a[x]; ok {
			n++
		}
	}
	if n != 1 {
		return errors.New("exactly one of type, enum or flags must be specified as an attribute to <key>")
	}
	k := &key{typ: typ, hasDomain: s.schema.domain != ""}
	switch {
	case enum != "":
		si, ok := s.c.enums[enum]
		if !ok {
			return fmt.Errorf("<enum id='%s'> not (yet) defined", enum)
		}
		k.typ, k.isEnum, k.strinfo = "s", true, append(strinfo(nil), si...)
	case flags != "":
		si, ok := s.c.flags[flags]
		if !ok {
			return fmt.Errorf("<flags id='%s'> not (yet) defined", flags)
		}
		k.typ, k.isFlags, k.strinfo = "as", true, append(strinfo(nil), si...)
	default:
		if err := gvariant.ValidType(typ); err != nil {
			return fmt.Errorf("invalid GVariant type string %q: %w", typ, err)
		}
	}
	s.schema.keys[name] = k
	s.schema.keyOrder = append(s.schema.keyOrder, name)
	s.key = k
	return nil
}

func (s *fileState) startDefault(a map[string]string) error {
	k := s.key
	l10n, hasL10n := a["l10n"]
	context, hasContext := a["context"]
	switch {
	case hasL10n && l10n == "messages":
		k.l10n = 'm'
	case hasL10n && l10n == "time":
		k.l10n = 't'
	case hasL10n:
		return fmt.Errorf("unsupported l10n category: %s", l10n)
	case hasContext:
		return errors.New("translation context given for value without l10n enabled")
	}
	if hasL10n && !k.hasDomain {
		return errors.New("l10n requested, but no gettext domain given")
	}
	k.l10nContext = context
	s.text = &strings.Builder{}
	return nil
}

// rangeDefaults are the bounds of a <range/> without min or max, by type.
var rangeDefaults = map[string][2]string{
	"y": {"0", "255"}, "n": {"-32768", "32767"}, "q": {"0", "65535"},
	"i": {"-2147483648", "2147483647"}, "u": {"0", "4294967295"},
	"x": {"-9223372036854775808", "9223372036854775807"}, "t": {"0", "18446744073709551615"},
	"d": {"-inf", "inf"},
}

func (s *fileState) setRange(a map[string]string) error {
	k := s.key
	if k.min != nil {
		return errors.New("<range/> already specified for this key")
	}
	d, ok := rangeDefaults[k.typ]
	if !ok || k.isEnum || k.isFlags {
		return fmt.Errorf("<range> not allowed for keys of type %q", k.typ)
	}
	lo, hi := d[0], d[1]
	if v, ok := a["min"]; ok {
		lo = v
	}
	if v, ok := a["max"]; ok {
		hi = v
	}
	min, err := gvariant.Parse(k.typ, lo)
	if err != nil {
		return fmt.Errorf("min: %w", err)
	}
	max, err := gvariant.Parse(k.typ, hi)
	if err != nil {
		return fmt.Errorf("max: %w", err)
	}
	if c, _ := gvariant.Compare(min, max); c > 0 {
		return errors.New("<range> specified minimum is greater than maximum")
	}
	k.min, k.max = &min, &max
	if k.def != nil {
		return k.check(*k.def, "default")
	}
	return nil
}

func (s *fileState) addAlias(alias, target string) error {
	k := s.key
	if k.strinfo.contains(alias) {
		if k.strinfo.valid(alias) {
			if k.isEnum {
				return fmt.Errorf("<alias value='%s'/> given when %q is already a member of the enumerated type", alias, alias)
			}
			return fmt.Errorf("<alias value='%s'/> given when <choice value='%s'/> was already given", alias, alias)
		}
		return fmt.Errorf("<alias value='%s'/> already specified", alias)
	}
	var ok bool
	if k.strinfo, ok = k.strinfo.appendAlias(alias, target); !ok {
		if k.isEnum {
			return fmt.Errorf("alias target %q is not in enumerated type", target)
		}
		return fmt.Errorf("alias target %q is not in <choices>", target)
	}
	k.hasAliases = true
	return nil
}

func (s *fileState) addEnumValue(nick, valueStr string) error {
	if len(nick) < 2 {
		return errors.New("nick must be a minimum of 2 characters")
	}
	v, ok := parseCInt(valueStr)
	if !ok || s.isFlags && (v < 0 || v > math.MaxUint32) || !s.isFlags && (v < math.MinInt32 || v > math.MaxInt32) {
		return fmt.Errorf("invalid numeric value %q", valueStr)
	}
	si := *s.enum
	if si.contains(nick) {
		return fmt.Errorf("<value nick='%s'/> already specified", nick)
	}
	if si.findValue(uint32(v)) {
		return fmt.Errorf("value='%s' already specified", valueStr)
	}
	if s.isFlags && v == 0 {
		return nil // glib-compile-schemas drops the empty flag: the empty array stands for it
	}
	if s.isFlags && v&(v-1) != 0 {
		return errors.New("flags values must have at most 1 bit set")
	}
	if si, ok = si.appendItem(nick, uint32(v)); !ok {
		return fmt.Errorf("nick %q: longer than 65 bytes", nick)
	}
	*s.enum = si
	return nil
}

func (s *fileState) end(el string) error {
	text := s.text
	s.text = nil
	switch el {
	case "enum", "flags":
		if len(*s.enum) == 0 {
			return fmt.Errorf("<%s> must contain at least one <value>", el)
		}
		if el == "flags" {
			s.c.flags[s.enumID] = *s.enum
		} else {
			s.c.enums[s.enumID] = *s.enum
		}
		s.enum = nil
	case "schema":
		s.schema = nil
	case "key":
		if s.key.def == nil {
			return errors.New("element <default> is required in <key>")
		}
		s.key = nil
	case "default":
		k := s.key
		k.unparsed = text.String()
		v, err := gvariant.Parse(k.typ, k.unparsed)
		if err != nil {
			return fmt.Errorf("failed to parse <default> value of type %q: %w", k.typ, err)
		}
		k.def = &v
		return k.check(v, "default")
	case "choices":
		if !s.key.hasChoices {
			return errors.New("<choices> must contain at least one <choice>")
		}
		if s.key.def != nil {
			return s.key.check(*s.key.def, "default")
		}
	case "aliases":
		if !s.key.hasAliases {
			return errors.New("<aliases> must contain at least one <alias>")
		}
	}
	return nil
}
