package gschema

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/gvdb"
)

// readDir reads a schema directory as Compile takes it.
func readDir(t testing.TB, dir string) []File {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []File
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: e.Name(), Data: data})
	}
	return files
}

// gsettings runs GLib's gsettings over the compiled schemas of dir alone (no system schemas),
// with the in-memory backend, and returns its output; anything on stderr fails the test.
func gsettings(t *testing.T, dir, desktop string, args ...string) string {
	t.Helper()
	cmd := exec.Command("gsettings", args...)
	cmd.Env = append(os.Environ(), "GSETTINGS_SCHEMA_DIR="+dir, "XDG_DATA_DIRS="+t.TempDir(),
		"GSETTINGS_BACKEND=memory", "LC_ALL=C.UTF-8", "XDG_CURRENT_DESKTOP="+desktop)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("gsettings %s over %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return string(out)
}

// describe is what gsettings says about the schemas compiled in dir: every key's value (with
// and without a desktop that has its own defaults), the schemas, the relocatable ones, the
// children and, with perKey, every key's range (enum, flags, choices or range) and the values of
// relocatable schemas (one gsettings run per key: slow).
func describe(t *testing.T, dir string, perKey bool) string {
	var b strings.Builder
	b.WriteString(gsettings(t, dir, "", "list-recursively"))
	b.WriteString(gsettings(t, dir, "GNOME", "list-recursively"))
	schemas := strings.Fields(gsettings(t, dir, "", "list-schemas"))
	reloc := strings.Fields(gsettings(t, dir, "", "list-relocatable-schemas"))
	slices.Sort(schemas)
	slices.Sort(reloc)
	b.WriteString(strings.Join(schemas, "\n") + "\n" + strings.Join(reloc, "\n") + "\n")
	for _, s := range append(schemas, reloc...) {
		target := s
		if slices.Contains(reloc, s) {
			target = s + ":/test/" + s + "/"
		}
		b.WriteString(gsettings(t, dir, "", "list-children", target))
		if !perKey {
			continue
		}
		keys := strings.Fields(gsettings(t, dir, "", "list-keys", target))
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString(s + " " + k + ": " + gsettings(t, dir, "", "get", target, k))
			b.WriteString(strings.ReplaceAll(gsettings(t, dir, "", "range", target, k), "\n", " ") + "\n")
		}
	}
	return b.String()
}

// compileBoth compiles src with glib-compile-schemas and with Compile, each into its own
// directory, and returns the two directories.
func compileBoth(t *testing.T, src string) (glib, ours string) {
	t.Helper()
	for _, tool := range []string{"glib-compile-schemas", "gsettings"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian's libglib2.0-bin): nothing to compare with", tool)
		}
	}
	glib, ours = t.TempDir(), t.TempDir()
	files := readDir(t, src)
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(glib, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("glib-compile-schemas", "--strict", glib).CombinedOutput(); err != nil {
		t.Fatalf("glib-compile-schemas: %v\n%s", err, out)
	}
	data, ok, err := Compile(files)
	if err != nil || !ok {
		t.Fatalf("Compile: %v (wrote: %v)", err, ok)
	}
	if err := os.WriteFile(filepath.Join(ours, "gschemas.compiled"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return glib, ours
}

// TestGoldenGsettings: GLib's own reader (gsettings) says the same about our gschemas.compiled
// as about glib-compile-schemas' for the same schemas: real Debian ones (libgtk-3-common
// 3.24.49-3 and gsettings-desktop-schemas 48.0-1, trixie) and a file that uses every feature
// the compiler supports. The files are also byte-identical.
func TestGoldenGsettings(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		perKey bool
		expect []string // lines GLib's compilation must show, so that the comparison means something
	}{
		{"testdata/debian", false, []string{
			"org.gtk.Settings.FileChooser sort-directories-first false",
			"org.gnome.desktop.interface font-name 'Cantarell 11'",  // from the override file
			"movement   org.gnome.desktop.break-reminders.movement", // a child
		}},
		{"testdata/features", true, []string{
			"org.example.all overridden 'after'",
			"org.example.all per-desktop 50",
			"org.example.all per-desktop 99", // XDG_CURRENT_DESKTOP=GNOME
			"org.example.all a-choice 'left'",
			"org.example.all size: 'medium'\nenum 'small' 'medium' 'large' 'negative-one'",
			"org.example.all an-int32: -5\nrange i -10 10",
		}},
	} {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			glib, ours := compileBoth(t, tc.dir)
			want, got := describe(t, glib, tc.perKey), describe(t, ours, tc.perKey)
			if got != want {
				t.Errorf("gsettings differs:\n%s", lineDiff(want, got))
			}
			for _, e := range tc.expect {
				if !strings.Contains(want, e) {
					t.Errorf("GLib's compilation does not show %q:\n%s", e, want)
				}
			}
			a, _ := os.ReadFile(filepath.Join(glib, "gschemas.compiled"))
			b, _ := os.ReadFile(filepath.Join(ours, "gschemas.compiled"))
			// The same tables, item by item, through our reader (which finds keys through their
			// hash buckets, as GLib's does).
			if da, db := dump(t, a), dump(t, b); da != db {
				t.Errorf("the files hold different tables:\n%s", lineDiff(da, db))
			}
			// And the same bytes: the writer lays items out in GLib's GHashTable order.
			if !bytes.Equal(a, b) {
				t.Errorf("glib-compile-schemas wrote %d bytes, Compile %d, not the same", len(a), len(b))
			}
		})
	}
}

// lineDiff lists the lines only one side has.
func lineDiff(want, got string) string {
	var b strings.Builder
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

func dump(t *testing.T, data []byte) string {
	t.Helper()
	r, err := gvdb.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Dump()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
