// Package gschema compiles GSettings schemas into gschemas.compiled, as glib-compile-schemas
// does for a directory (GNOME/glib gio/glib-compile-schemas.c): *.gschema.xml and *.enums.xml
// files, then *.gschema.override key files, into a GVDB file (internal/gvdb).
//
// It takes the schema language Debian's desktop packages use: <schema> with id, path and
// gettext-domain; <key> with type, enum or flags; <default> (with l10n and context); <summary>,
// <description>; <range>; <choices>; <aliases>; <child>; <enum> and <flags>; and override
// files, per-desktop groups included. It refuses extends, list-of and <override> (schema
// inheritance), qualified (namespaced) elements, and anything glib-compile-schemas would reject,
// with an *Error naming the file, the line and the element. Where glib-compile-schemas
// ignores a broken file or override with a warning (it runs without --strict in Debian's
// trigger), Compile fails instead, so that nothing is dropped without a word.
package gschema

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/internal/gvariant"
	"github.com/genai-os/genai-build/internal/gvdb"
)

// File is one file of the schema directory, by base name.
type File struct {
	Name string
	Data []byte
}

// Error is a problem in one schema or override file.
type Error struct {
	File    string
	Line    int
	Element string // the element or override group in question, if any
	Err     error
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Element != "" {
		s += ": " + e.Element
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnsupported marks schema syntax this compiler does not implement (but GLib does).
var ErrUnsupported = errors.New("not supported by this compiler")

// IsSchemaFile reports whether glib-compile-schemas reads the file by its name.
func IsSchemaFile(name string) bool {
	return strings.HasSuffix(name, ".gschema.xml") || strings.HasSuffix(name, ".enums.xml") ||
		strings.HasSuffix(name, ".gschema.override")
}

// Compile compiles the files of one schema directory (files of other names are ignored, as
// glib-compile-schemas ignores them) and returns gschemas.compiled. ok is false when there is no
// schema file, where glib-compile-schemas writes nothing.
func Compile(files []File) (out []byte, ok bool, err error) {
	var schemas, overrides []File
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.Name, ".gschema.xml") || strings.HasSuffix(f.Name, ".enums.xml"):
			schemas = append(schemas, f)
		case strings.HasSuffix(f.Name, ".gschema.override"):
			overrides = append(overrides, f)
		}
	}
	if len(schemas) == 0 {
		return nil, false, nil
	}
	// *.enums.xml first, then by name (glib-compile-schemas.c, compare_strings), for both lists.
	for _, l := range [][]File{schemas, overrides} {
		sort.Slice(l, func(i, j int) bool {
			ei, ej := strings.HasSuffix(l[i].Name, ".enums.xml"), strings.HasSuffix(l[j].Name, ".enums.xml")
			if ei != ej {
				return ei
			}
			return l[i].Name < l[j].Name
		})
	}
	c := &compiler{schemas: map[string]*schema{}, enums: map[string]strinfo{}, flags: map[string]strinfo{}}
	for _, f := range schemas {
		if err := c.parse(f); err != nil {
			return nil, false, err
		}
	}
	for _, f := range overrides {
		if err := c.override(f); err != nil {
			return nil, false, err
		}
	}
	b, err := c.table().Bytes()
	return b, true, err
}

type schema struct {
	id, path, domain string
	keys             map[string]*key
	keyOrder         []string // keys and "child/" names, as the file gives them
}

type key struct {
	typ         string
	child       string // for <child>: the schema id; the rest is unset
	def         *gvariant.Value
	unparsed    string
	l10n        byte
	l10nContext string
	hasDomain   bool
	strinfo     strinfo
	isEnum      bool
	isFlags     bool
	hasChoices  bool
	hasAliases  bool
	min, max    *gvariant.Value
	desktop     map[string]gvariant.Value
	desktops    []string // desktop ids in the order the override files give them
}

type compiler struct {
	schemas map[string]*schema
	order   []string // schema ids in the order of the files
	enums   map[string]strinfo
	flags   map[string]strinfo
}

// table lays the schemas out as glib-compile-schemas' write_to_file does: the root table maps
// each schema id to its table, and an item "" lists the ids; a schema's table maps each key
// (and "name/" for each child) to its serialised state, with an item "" listing them, and
// ".path" and ".gettext-domain" (the latter only when a key is localised). Items go in in GLib's
// order ("", then the iteration order of its GHashTables of schemas and of keys, then the
// dotted names), so that the file is byte for byte glib-compile-schemas'.
func (c *compiler) table() *gvdb.Table {
	root := gvdb.NewTable()
	rootList := root.Insert("")
	for _, id := range gvdb.GHashOrder(c.order) {
		s := c.schemas[id]
		t := gvdb.NewTable()
		it := root.Insert(id)
		it.SetTable(t)
		_ = it.SetParent(rootList) // "" is a prefix of every name
		list := t.Insert("")
		l10n := false
		for _, name := range gvdb.GHashOrder(s.keyOrder) {
			k := s.keys[name]
			kit := t.Insert(name)
			kit.SetValue(k.serialise())
			_ = kit.SetParent(list)
			l10n = l10n || k.l10n != 0
		}
		if s.path != "" {
			t.InsertValue(".path", gvariant.String(s.path))
		}
		if l10n {
			t.InsertValue(".gettext-domain", gvariant.String(s.domain))
		}
	}
	return root
}

// serialise is key_state_serialise: a child's schema id, or the tuple of the default value and
// the optional ('l', (category, text)), ('e'|'f'|'c', strinfo), ('r', (min, max)) and
// ('d', per-desktop defaults).
func (k *key) serialise() gvariant.Value {
	if k.child != "" {
		return gvariant.String(k.child)
	}
	parts := []gvariant.Value{*k.def}
	tag := func(c byte, v gvariant.Value) gvariant.Value { return gvariant.Tuple(gvariant.Byte(c), v) }
	if k.l10n != 0 {
		text := strings.TrimSpace(k.unparsed) // strip_string: what ended up in the .po file
		if k.l10nContext != "" {
			text = k.l10nContext + "\x04" + text // gettext's context separator
		}
		parts = append(parts, tag('l', gvariant.Tuple(gvariant.Byte(k.l10n), gvariant.String(text))))
	}
	if len(k.strinfo) > 0 {
		var words []gvariant.Value
		for _, w := range k.strinfo.uint32s() {
			words = append(words, gvariant.Uint32(w))
		}
		au, _ := gvariant.Array("u", words...)
		c := byte('c')
		switch {
		case k.isFlags:
			c = 'f'
		case k.isEnum:
			c = 'e'
		}
		parts = append(parts, tag(c, au))
	}
	if k.min != nil {
		parts = append(parts, tag('r', gvariant.Tuple(*k.min, *k.max)))
	}
	if len(k.desktop) > 0 {
		var entries []gvariant.Value
		for _, id := range gvdb.GHashOrder(k.desktops) { // GVariantDict is a GHashTable too
			e, _ := gvariant.DictEntry(gvariant.String(id), gvariant.Variant(k.desktop[id]))
			entries = append(entries, e)
		}
		dict, _ := gvariant.Array("{sv}", entries...)
		parts = append(parts, tag('d', dict))
	}
	return gvariant.Tuple(parts...)
}

// validChoices is is_valid_choices: every string inside v (through maybes and arrays) is a
// value of the map, not an alias.
func validChoices(v gvariant.Value, si strinfo) bool {
	switch v.Type()[0] {
	case 'm', 'a':
		for _, c := range v.Children() {
			if !validChoices(c, si) {
				return false
			}
		}
		return true
	}
	return si.valid(v.Str())
}

// check is key_state_check_range: the default lies in the range, or is among the choices.
func (k *key) check(v gvariant.Value, tag string) error {
	if k.min != nil {
		lo, _ := gvariant.Compare(v, *k.min)
		hi, _ := gvariant.Compare(v, *k.max)
		if lo < 0 || hi > 0 {
			return fmt.Errorf("<%s> is not contained in the specified range", tag)
		}
	} else if len(k.strinfo) > 0 && !validChoices(v, k.strinfo) {
		switch {
		case k.isEnum:
			return fmt.Errorf("<%s> is not a valid member of the specified enumerated type", tag)
		case k.isFlags:
			return fmt.Errorf("<%s> contains string not in the specified flags type", tag)
		}
		return fmt.Errorf("<%s> contains a string not in <choices>", tag)
	}
	return nil
}

// validName is is_valid_keyname: lowercase letters, digits and single inner hyphens, starting
// with a letter, at most 1024 bytes.
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("empty names are not permitted")
	case name[0] < 'a' || name[0] > 'z':
		return fmt.Errorf("invalid name %q: names must begin with a lowercase letter", name)
	case strings.HasSuffix(name, "-"):
		return fmt.Errorf("invalid name %q: the last character may not be a hyphen", name)
	case strings.Contains(name, "--"):
		return fmt.Errorf("invalid name %q: two successive hyphens are not permitted", name)
	case len(name) > 1024:
		return fmt.Errorf("invalid name %q: maximum length is 1024", name)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("invalid name %q: invalid character %q; only lowercase letters, numbers and hyphen are permitted", name, c)
		}
	}
	return nil
}

// parseCInt reads an integer as g_ascii_strtoll(s, &end, 0) does with nothing after it:
// leading space, an optional sign, then gvariant.CInteger's forms.
func parseCInt(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	if strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "+-") {
		s = s[1:]
	}
	u, neg, ok := gvariant.CInteger(s)
	switch {
	case !ok || u > 1<<63 || !neg && u == 1<<63:
		return 0, false
	case neg:
		return -int64(u-1) - 1, true
	}
	return int64(u), true
}
