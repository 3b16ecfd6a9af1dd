package debconfigure

import (
	"fmt"
	"path"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/gschema"
)

// schemasDir is where GSettings schemas live, and the file trigger libglib2.0-0t64 is interested in.
const schemasDir = "usr/share/glib-2.0/schemas"

// compileSchemas does libglib2.0-0t64's `glib-compile-schemas /usr/share/glib-2.0/schemas`
// (its postinst, and its trigger on that directory) in Go: it writes gschemas.compiled from the
// directory's *.gschema.xml, *.enums.xml and *.gschema.override files. It writes nothing when
// there is no schema, as the tool does. Debian runs the tool with `|| true`; here a schema the
// compiler rejects fails the stage, naming the file and line.
func compileSchemas(tree *fstree.Tree) error {
	var files []gschema.File
	for _, e := range tree.Entries() {
		name := path.Base(e.Path)
		if path.Dir(e.Path) != schemasDir || !gschema.IsSchemaFile(name) {
			continue
		}
		f := e
		if e.Kind == fstree.Symlink {
			p, err := resolve(tree, e.Path)
			if err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
			var ok bool
			if f, ok = tree.Get(p); !ok {
				return fmt.Errorf("%s: dangling symlink to %s", e.Path, e.Target)
			}
		}
		if f.Kind != fstree.File {
			return fmt.Errorf("%s: not a regular file", e.Path)
		}
		data, err := f.ReadAll()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
		files = append(files, gschema.File{Name: name, Data: data})
	}
	out, ok, err := gschema.Compile(files)
	if err != nil {
		return fmt.Errorf("glib-compile-schemas: %s/%w", schemasDir, err)
	}
	if !ok {
		return nil
	}
	return tree.Replace(fstree.Entry{Path: schemasDir + "/gschemas.compiled", Kind: fstree.File, Mode: 0o644,
		Data: out, Origin: "deb:libglib2.0-0t64 (glib-compile-schemas)"})
}
