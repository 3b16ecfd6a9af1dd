package debconfigure

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/gschema"
	"github.com/genai-os/genai-build/internal/gvdb"
)

// glibPackage is trixie's libglib2.0-0t64 2.84 with its real postinst and triggers.
func glibPackage(t *testing.T) Package {
	t.Helper()
	p := Package{Name: "libglib2.0-0t64", Control: map[string][]byte{}}
	for _, f := range []string{"postinst", "triggers"} {
		b, err := os.ReadFile("testdata/scripts/libglib2.0-0t64." + f)
		if err != nil {
			t.Fatal(err)
		}
		p.Control[f] = b
	}
	return p
}

// TestCompileSchemas: the configure stage writes gschemas.compiled from the tree's schemas
// (Debian's, from libgtk-3-common and gsettings-desktop-schemas), so that GTK finds
// org.gtk.Settings.FileChooser; a tree without schemas gets no file; a schema the compiler
// rejects fails the stage with its file and line.
func TestCompileSchemas(t *testing.T) {
	tree := fstree.New()
	src := "../gschema/testdata/debian"
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Add(fstree.Entry{Path: schemasDir + "/" + e.Name(), Kind: fstree.File, Mode: 0o644, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Configure(tree, []Package{glibPackage(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := tree.Get(schemasDir + "/gschemas.compiled")
	if !ok {
		t.Fatalf("no gschemas.compiled; effects %+v", res.Effects)
	}
	r, err := gvdb.Open(e.Data)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := r.Table("org.gtk.Settings.FileChooser")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := fc.Value(".path"); err != nil || v.Str() != "/org/gtk/settings/file-chooser/" {
		t.Errorf("FileChooser's path: %v, %v", v, err)
	}

	empty := fstree.New()
	if _, err := Configure(empty, []Package{glibPackage(t)}, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := empty.Get(schemasDir + "/gschemas.compiled"); ok {
		t.Error("gschemas.compiled written for a tree without schemas")
	}

	bad := fstree.New()
	if err := bad.Add(fstree.Entry{Path: schemasDir + "/x.gschema.xml", Kind: fstree.File, Mode: 0o644,
		Data: []byte("<schemalist>\n<schema id='x'>\n<key name='k' type='s'/>\n</schema></schemalist>")}); err != nil {
		t.Fatal(err)
	}
	_, err = Configure(bad, []Package{glibPackage(t)}, Options{})
	var ge *gschema.Error
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "schemas/x.gschema.xml:3: </key>: element <default> is required") {
		t.Errorf("error %v, want one naming x.gschema.xml line 3", err)
	}
}
