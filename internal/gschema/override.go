package gschema

import (
	"fmt"
	"strings"

	"github.com/genai-os/genai-build/internal/gvariant"
)

// override applies one *.gschema.override key file (glib-compile-schemas.c, set_overrides):
// each group names a schema, or "schema:desktop" for a default that applies only when
// XDG_CURRENT_DESKTOP names that desktop; each key's value is in the text format. A group for a
// schema that is not installed is skipped, as GLib skips it ("expected to be a common case").
// A key the schema lacks, a value that does not parse or lies outside the key's range or
// choices, and a per-desktop default for a localised key are errors (GLib warns and ignores
// them without --strict).
func (c *compiler) override(f File) error {
	var group string
	var sch *schema
	for i, raw := range strings.Split(string(f.Data), "\n") {
		line := strings.TrimSpace(raw)
		errorf := func(format string, args ...any) error {
			return &Error{File: f.Name, Line: i + 1, Element: "[" + group + "]", Err: fmt.Errorf(format, args...)}
		}
		switch {
		case line == "" || line[0] == '#':
			continue
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return &Error{File: f.Name, Line: i + 1, Err: fmt.Errorf("invalid group line %q", line)}
			}
			group = line[1 : len(line)-1]
			name, _, _ := strings.Cut(group, ":")
			sch = c.schemas[name]
			continue
		}
		if group == "" {
			return &Error{File: f.Name, Line: i + 1, Err: fmt.Errorf("key file does not start with a group")}
		}
		k, value, ok := strings.Cut(line, "=")
		if !ok {
			return errorf("line %q is not a key=value pair", line)
		}
		k, value = strings.TrimSpace(k), strings.TrimSpace(value)
		if sch == nil {
			continue
		}
		_, desktop, perDesktop := strings.Cut(group, ":")
		st, ok := sch.keys[k]
		if !ok || st.child != "" {
			return errorf("no such key %q in schema %q", k, sch.id)
		}
		if perDesktop && st.l10n != 0 {
			return errorf("cannot provide per-desktop overrides for localized key %q", k)
		}
		v, err := gvariant.Parse(st.typ, value)
		if err != nil {
			return errorf("key %q: parsing %q as %s: %w", k, value, st.typ, err)
		}
		if err := st.check(v, "override"); err != nil {
			return errorf("key %q: %w", k, err)
		}
		if perDesktop {
			if st.desktop == nil {
				st.desktop = map[string]gvariant.Value{}
			}
			if _, ok := st.desktop[desktop]; !ok {
				st.desktops = append(st.desktops, desktop)
			}
			st.desktop[desktop] = v
		} else {
			st.def = &v
		}
	}
	return nil
}
