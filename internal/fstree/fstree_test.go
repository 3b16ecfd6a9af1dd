package fstree

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

func mustAdd(t *testing.T, tr *Tree, e Entry) {
	t.Helper()
	if err := tr.Add(e); err != nil {
		t.Fatal(err)
	}
}

func paths(tr *Tree) []string {
	var out []string
	for _, e := range tr.Entries() {
		out = append(out, e.Path)
	}
	return out
}

func TestAddCreatesParentsAndCleansPaths(t *testing.T) {
	tr := New()
	mustAdd(t, tr, Entry{Path: "/etc//ssh/./sshd_config", Kind: File, Mode: 0o644, Data: []byte("x"), Origin: "o"})
	if got, want := paths(tr), []string{"etc", "etc/ssh", "etc/ssh/sshd_config"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	d, _ := tr.Get("etc/ssh")
	if d.Kind != Dir || d.Mode != 0o755 || d.UID != 0 || d.Origin != "o" {
		t.Errorf("parent %+v, want a root-owned 0755 folder from o", d)
	}
	f, _ := tr.Get("etc/ssh/sshd_config")
	if f.Size != 1 {
		t.Errorf("size %d, want 1", f.Size)
	}
	for _, bad := range []string{"../etc/x", "etc/../../x", "/", ".", "a\x00b"} {
		if err := tr.Add(Entry{Path: bad, Kind: File}); err == nil {
			t.Errorf("Add(%q) succeeded, want an error", bad)
		}
	}
	if err := tr.Add(Entry{Path: "bin/sh", Kind: Symlink}); err == nil {
		t.Error("a symlink without a target was added")
	}
}

func TestAddConflicts(t *testing.T) {
	tr := New()
	mustAdd(t, tr, Entry{Path: "etc/hostname", Kind: File, Mode: 0o644, Data: []byte("a\n"), Origin: "first"})
	// The same entry again is no conflict.
	mustAdd(t, tr, Entry{Path: "etc/hostname", Kind: File, Mode: 0o644, Data: []byte("a\n"), Origin: "second"})
	for name, e := range map[string]Entry{
		"other content": {Path: "etc/hostname", Kind: File, Mode: 0o644, Data: []byte("b\n"), Origin: "second"},
		"other mode":    {Path: "etc/hostname", Kind: File, Mode: 0o600, Data: []byte("a\n"), Origin: "second"},
		"other kind":    {Path: "etc/hostname", Kind: Symlink, Mode: 0o777, Target: "x", Origin: "second"},
		"dir over file": {Path: "etc/hostname", Kind: Dir, Mode: 0o755, Origin: "second"},
	} {
		err := tr.Add(e)
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Path != "etc/hostname" || ce.Old != "first" || ce.New != "second" {
			t.Errorf("%s: err = %v, want a *ConflictError naming both origins", name, err)
		}
	}
	// A file where a parent folder must go.
	if err := tr.Add(Entry{Path: "etc/hostname/x", Kind: File}); err == nil {
		t.Error("a file under a file was added")
	}
	got, _ := tr.Get("etc/hostname")
	if string(got.Data) != "a\n" || got.Origin != "first" {
		t.Errorf("after refused adds the entry is %+v, want the first", got)
	}
	// Folders over folders merge, keeping the first's metadata under Add.
	mustAdd(t, tr, Entry{Path: "etc", Kind: Dir, Mode: 0o700, Origin: "third"})
	if d, _ := tr.Get("etc"); d.Mode != 0o755 {
		t.Errorf("Add changed /etc's mode to %o", d.Mode)
	}
}

func TestReplace(t *testing.T) {
	tr := New()
	mustAdd(t, tr, Entry{Path: "etc/ssh/sshd_config", Kind: File, Mode: 0o644, Data: []byte("package"), Origin: "deb:openssh"})
	mustAdd(t, tr, Entry{Path: "usr/bin/x/y", Kind: File, Mode: 0o755, Data: []byte("y")})
	if err := tr.Replace(Entry{Path: "etc/ssh/sshd_config", Kind: File, Mode: 0o600, Data: []byte("overlay"), Origin: "overlay:server"}); err != nil {
		t.Fatal(err)
	}
	e, _ := tr.Get("etc/ssh/sshd_config")
	if string(e.Data) != "overlay" || e.Mode != 0o600 || e.Origin != "overlay:server" || e.Size != 7 {
		t.Errorf("replaced entry %+v, want the overlay's", e)
	}
	// A folder over a folder takes the later metadata (dpkg's rule for shared folders).
	if err := tr.Replace(Entry{Path: "etc/ssh", Kind: Dir, Mode: 0o700, Origin: "deb:x"}); err != nil {
		t.Fatal(err)
	}
	if d, _ := tr.Get("etc/ssh"); d.Mode != 0o700 {
		t.Errorf("mode %o, want 0700", d.Mode)
	}
	// A file cannot replace a folder, whatever is under it.
	var ce *ConflictError
	if err := tr.Replace(Entry{Path: "usr/bin/x", Kind: File, Data: []byte("x")}); !errors.As(err, &ce) {
		t.Errorf("file over a folder: err = %v, want a *ConflictError", err)
	}
	// A symlink replaces a file.
	if err := tr.Replace(Entry{Path: "usr/bin/x/y", Kind: Symlink, Mode: 0o777, Target: "z"}); err != nil {
		t.Fatal(err)
	}
	tr.Remove("usr/bin/x")
	if _, ok := tr.Get("usr/bin/x/y"); ok {
		t.Error("Remove left an entry under the removed folder")
	}
}

// Overlays' modes come from the checkout, which depends on the umask: the tree normalises them, and
// an overlay's folders never change the mode of a folder the tree has.
func TestAddHostDirModes(t *testing.T) {
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)
	dir := t.TempDir()
	for _, d := range []string{"etc/ssh", "root/.config", "srv/www"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]fs.FileMode{"etc/ssh/sshd_config": 0o666, "usr-tool": 0o775, "srv/www/index.html": 0o604, "srv/run": 0o744}
	for p, m := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(p), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, p), m|fs.ModeSetuid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("sshd_config", filepath.Join(dir, "etc/ssh/link")); err != nil {
		t.Fatal(err)
	}
	tr := New()
	mustAdd(t, tr, Entry{Path: "etc", Kind: Dir, Mode: 0o755, Origin: "generated"})
	mustAdd(t, tr, Entry{Path: "root", Kind: Dir, Mode: 0o700, Origin: "generated"})
	if err := tr.AddHostDir(dir, "", "overlay:test", true); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"etc": 0o755, "root": 0o700, // kept: generated by the builder
		"etc/ssh": 0o755, "root/.config": 0o755, "srv": 0o755, "srv/www": 0o755,
		"etc/ssh/sshd_config": 0o644, "srv/www/index.html": 0o644,
		"usr-tool": 0o755, "srv/run": 0o755,
		"etc/ssh/link": 0o777,
	}
	for p, m := range want {
		e, ok := tr.Get(p)
		if !ok {
			t.Errorf("%s missing", p)
			continue
		}
		if e.Mode != m {
			t.Errorf("%s: mode %04o, want %04o", p, e.Mode, m)
		}
	}
	if e, _ := tr.Get("etc"); e.Origin != "generated" {
		t.Errorf("etc's origin is %s, want it kept", e.Origin)
	}
	if e, _ := tr.Get("etc/ssh/link"); e.Kind != Symlink || e.Target != "sshd_config" {
		t.Errorf("link: %+v", e)
	}
}
