package gschema

import (
	"errors"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/gvdb"
)

const head = `<?xml version="1.0"?>
<schemalist>
  <schema id="org.t" path="/org/t/">
`

// schemaFile is a schema file with body inside <schema id="org.t">, which starts on line 4.
func schemaFile(body string) File {
	return File{Name: "t.gschema.xml", Data: []byte(head + body + "\n  </schema>\n</schemalist>\n")}
}

// TestErrors: what glib-compile-schemas rejects, and what this compiler does not support, is an
// error naming the file, the line and the element.
func TestErrors(t *testing.T) {
	enums := File{Name: "t.enums.xml", Data: []byte(`<schemalist><enum id="e"><value nick="aa" value="1"/></enum></schemalist>`)}
	for _, tc := range []struct {
		name  string
		files []File
		want  string
	}{
		{"unknown element", []File{schemaFile(`    <key name="k" type="s"><default>''</default><hint/></key>`)},
			`t.gschema.xml:4: <hint>: element <hint> not allowed inside <key>`},
		{"extends", []File{{Name: "x.gschema.xml", Data: []byte("<schemalist>\n<schema id='a' extends='b'/></schemalist>")}},
			`x.gschema.xml:2: <schema>: attribute extends: not supported by this compiler`},
		{"override element", []File{schemaFile(`    <override name="k">''</override>`)},
			`t.gschema.xml:4: <override>: <override> (schema inheritance): not supported`},
		{"namespaced", []File{schemaFile(`    <xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="x"/>`)},
			`t.gschema.xml:4: <include>: qualified (namespaced) elements: not supported`},
		{"bad default", []File{schemaFile("    <key name=\"k\" type=\"i\">\n      <default>'x'</default>\n    </key>")},
			`t.gschema.xml:5: </default>: failed to parse <default> value of type "i"`},
		{"no default", []File{schemaFile(`    <key name="k" type="i"></key>`)},
			`t.gschema.xml:4: </key>: element <default> is required in <key>`},
		{"out of range", []File{schemaFile(`    <key name="k" type="i"><range min="1" max="2"/><default>3</default></key>`)},
			`<default> is not contained in the specified range`},
		{"not a choice", []File{schemaFile(`    <key name="k" type="s"><choices><choice value="a"/></choices><default>'b'</default></key>`)},
			`<default> contains a string not in <choices>`},
		{"bad name", []File{schemaFile(`    <key name="Key" type="s"><default>''</default></key>`)},
			`names must begin with a lowercase letter`},
		{"unknown attribute", []File{schemaFile(`    <key name="k" type="s" color="red"><default>''</default></key>`)},
			`t.gschema.xml:4: <key>: unexpected attribute "color"`},
		{"two types", []File{schemaFile(`    <key name="k" type="s" enum="e"><default>''</default></key>`), enums},
			`exactly one of type, enum or flags`},
		{"undefined enum", []File{schemaFile(`    <key name="k" enum="nope"><default>'aa'</default></key>`)},
			`<enum id='nope'> not (yet) defined`},
		{"enum member", []File{schemaFile(`    <key name="k" enum="e"><default>'bb'</default></key>`), enums},
			`<default> is not a valid member of the specified enumerated type`},
		{"text", []File{schemaFile(`    stray text`)}, `t.gschema.xml:5: <schema>: text may not appear here`},
		{"malformed", []File{{Name: "m.gschema.xml", Data: []byte("<schemalist>\n<schema id='a'>\n</schemalist>")}},
			`m.gschema.xml:3: `},
		{"override: no such key", []File{schemaFile(`    <key name="k" type="s"><default>''</default></key>`),
			{Name: "o.gschema.override", Data: []byte("[org.t]\nk='x'\n\nnope=1\n")}},
			`o.gschema.override:4: [org.t]: no such key "nope" in schema "org.t"`},
		{"override: bad value", []File{schemaFile(`    <key name="k" type="i"><default>1</default></key>`),
			{Name: "o.gschema.override", Data: []byte("[org.t]\nk='x'\n")}},
			`o.gschema.override:2: [org.t]: key "k": parsing "'x'" as i`},
		{"override: range", []File{schemaFile(`    <key name="k" type="i"><default>1</default><range min="0" max="5"/></key>`),
			{Name: "o.gschema.override", Data: []byte("[org.t:GNOME]\nk=6\n")}},
			`<override> is not contained in the specified range`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Compile(tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line == 0 {
				t.Errorf("%v is not an *Error with a line", err)
			}
		})
	}
}

// TestTable: what Compile writes for a schema, read back through the GVDB reader.
func TestTable(t *testing.T) {
	files := []File{
		{Name: "b.enums.xml", Data: []byte(`<schemalist><enum id="e"><value nick="aa" value="1"/><value nick="bb" value="2"/></enum></schemalist>`)},
		schemaFile(`    <key name="k" enum="e"><default>'bb'</default></key>
    <key name="r" type="u"><range max="9"/><default>3</default></key>
    <child name="c" schema="org.c"/>`),
		{Name: "notes.txt", Data: []byte("not a schema")},
	}
	data, ok, err := Compile(files)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	r, err := gvdb.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Table("org.t")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		".path": "'/org/t/'",
		"c/":    "'org.c'",
		// ('bb', ('e', strinfo)): value 1, "\xffaa\0" = 0x006161ff, 0xff000000, value 2, "\xffbb\0"…
		"k": "('bb', (101, [1, 6382079, 4278190080, 2, 6447871, 4278190080]))",
		"r": "(uint32 3, (114, (uint32 0, uint32 9)))",
	} {
		v, err := s.Value(key)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if got := strings.ReplaceAll(v.String(), "uint32 ", ""); got != strings.ReplaceAll(want, "uint32 ", "") {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	l, err := s.List("")
	if err != nil || strings.Join(l, " ") != "c/ k r" {
		t.Errorf(`"" lists %q (%v), want the keys`, l, err)
	}
	if _, ok, err := Compile([]File{{Name: "x.gschema.override", Data: []byte("[a]\nb=1\n")}}); ok || err != nil {
		t.Errorf("a directory without schemas: ok %v, err %v; glib-compile-schemas writes nothing", ok, err)
	}
}
