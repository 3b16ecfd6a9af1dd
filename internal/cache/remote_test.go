package cache

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stage archive is unpacked only inside its folder: no name leaves it, none goes through a
// symlink, none comes twice, and only folders, files and symlinks are taken.
func TestReadStageArchiveRefuses(t *testing.T) {
	type entry struct {
		name string
		typ  byte
		link string
	}
	for _, tc := range []struct {
		name    string
		entries []entry
		want    string
	}{
		{"parent", []entry{{name: "../escape", typ: tar.TypeReg}}, "bad or repeated name"},
		{"absolute", []entry{{name: "/etc/passwd", typ: tar.TypeReg}}, "bad or repeated name"},
		{"through a symlink", []entry{{name: "a", typ: tar.TypeSymlink, link: "/tmp"}, {name: "a/f", typ: tar.TypeReg}}, "not one the archive made"},
		{"twice", []entry{{name: "f", typ: tar.TypeReg}, {name: "f", typ: tar.TypeReg}}, "bad or repeated name"},
		{"device", []entry{{name: "null", typ: tar.TypeChar}}, "is not taken"},
		{"hard link", []entry{{name: "f", typ: tar.TypeReg}, {name: "g", typ: tar.TypeLink, link: "f"}}, "is not taken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			for _, e := range tc.entries {
				if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644}); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			dir := t.TempDir()
			err := readStageArchive(&b, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A stage written as an archive and read back is the same folder, and the archive is the same
// bytes each time (equal stages make equal registry blobs).
func TestStageArchiveRoundTrip(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	dir, err := c.CommitStage("k", strings.Repeat("a", 64), func(d string) error {
		os.MkdirAll(filepath.Join(d, "x", "y"), 0o755)
		os.Symlink("x/y/f", filepath.Join(d, "l"))
		return os.WriteFile(filepath.Join(d, "x", "y", "f"), []byte("data"), 0o755)
	})
	if err != nil {
		t.Fatal(err)
	}
	var one, two bytes.Buffer
	if _, err := WriteStageArchive(&one, dir); err != nil {
		t.Fatal(err)
	}
	WriteStageArchive(&two, dir)
	if !bytes.Equal(one.Bytes(), two.Bytes()) {
		t.Error("two archives of one stage differ")
	}
	out := t.TempDir()
	if err := readStageArchive(bytes.NewReader(one.Bytes()), out); err != nil {
		t.Fatal(err)
	}
	want, _, _ := scanStage(dir, true)
	got, _, err := scanStage(out, true)
	if err != nil || sameManifest(want, got) != "" {
		t.Errorf("read back: %v %s", err, sameManifest(want, got))
	}
	if m, _ := os.ReadFile(filepath.Join(out, ManifestName)); len(m) == 0 {
		t.Error("the manifest did not travel")
	}
}
