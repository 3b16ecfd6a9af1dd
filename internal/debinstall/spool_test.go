package debinstall

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/squashfs"
)

func link(name, target string) ent { return ent{name: name, link: target, typ: tar.TypeLink} }

// sum is the SHA-256 of a file entry's content, read through Open (Data or Source alike).
func sum(t testing.TB, e *fstree.Entry) string {
	t.Helper()
	rc, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// describe is every entry of a tree as a line: kind, mode, owner, link target, size, content
// digest and origin; what two trees must agree on whether contents are in memory or spooled.
func describe(t testing.TB, tree *fstree.Tree) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range tree.Entries() {
		d := fmt.Sprintf("%s %o %d:%d %q %s", e.Kind, e.Mode, e.UID, e.GID, e.Target, e.Origin)
		if e.Kind == fstree.File {
			d += fmt.Sprintf(" %d %s", e.Size, sum(t, e))
		}
		out[e.Path] = d
	}
	return out
}

// compareTrees reports every path on which two trees differ.
func compareTrees(t testing.TB, a, b map[string]string) {
	t.Helper()
	n := 0
	for p, da := range a {
		if db, ok := b[p]; !ok || da != db {
			if n++; n <= 20 {
				t.Errorf("%s:\n  in memory %s\n  spooled   %s", p, da, db)
			}
		}
	}
	for p, db := range b {
		if _, ok := a[p]; !ok {
			if n++; n <= 20 {
				t.Errorf("%s: only spooled: %s", p, db)
			}
		}
	}
	if n > 20 {
		t.Errorf("... %d differences in all", n)
	}
}

// checkSpooled checks that the package files of a spooled tree hold no bytes in memory, and name
// spool files by their digest.
func checkSpooled(t testing.TB, tree *fstree.Tree, spool string) {
	t.Helper()
	for _, e := range tree.Entries() {
		if e.Kind != fstree.File || strings.HasPrefix(e.Path, "var/lib/dpkg/") {
			continue
		}
		if e.Data != nil || !strings.HasPrefix(e.Source, spool+"/") {
			t.Errorf("%s: %d bytes in memory, source %q; want it in the spool", e.Path, len(e.Data), e.Source)
			continue
		}
		if got := sum(t, e); filepath.Base(e.Source) != got || filepath.Base(filepath.Dir(e.Source)) != got[:2] {
			t.Errorf("%s: spool file %s holds content with digest %s", e.Path, e.Source, got)
		}
	}
}

// spoolDebs are packages with everything the unpacker handles: setuid files, owners, usr-merge,
// hard links (also to a link, and to a dropped doc), shared identical files, a licence.
func spoolDebs(t *testing.T) []Deb {
	a := makeDeb(t, "alpha", "1", "", map[string]string{"postinst": "#!/bin/sh\n"}, []ent{
		dir("./"), dir("./bin/"), {name: "./bin/tool", body: "tool binary", mode: 0o4755, gid: 5},
		dir("./usr/"), dir("./usr/bin/"), link("./usr/bin/tool-again", "./bin/tool"),
		link("./usr/bin/tool-third", "./usr/bin/tool-again"),
		sym("./usr/bin/t", "tool-again"),
		reg("./usr/share/alpha/shared", "the same in both packages"),
		reg("./usr/share/alpha/empty", ""),
		reg("./usr/share/doc/alpha/copyright", dep5),
		reg("./usr/share/doc/alpha/README", "readme"),
		link("./usr/share/alpha/README", "./usr/share/doc/alpha/README"),
		link("./usr/share/alpha/README.too", "./usr/share/doc/alpha/README"),
		{name: "./etc/alpha.conf", body: "secret", mode: 0o640, gid: 42},
	})
	b := makeDeb(t, "beta", "2", "", nil, []ent{
		dir("./usr/"), dir("./usr/share/"),
		reg("./usr/share/beta/shared", "the same in both packages"),
		reg("./usr/share/alpha/shared", "the same in both packages"), // identical: no conflict
		reg("./usr/share/doc/beta/copyright", "free form\n"),
		reg("./usr/lib/beta.so", strings.Repeat("x", 3*spoolBuffer+17)), // more than the copy buffer
	})
	return []Deb{a, b}
}

// Spooled contents give the same tree as contents in memory: every entry's kind, mode, owner,
// target, size, content and origin, and the same Installed.
func TestSpoolSameAsMemory(t *testing.T) {
	debs := spoolDebs(t)
	for _, o := range []Options{{}, {DropDocs: true}, {Hardlinks: true}, {DropDocs: true, Hardlinks: true}} {
		t.Run(fmt.Sprintf("dropdocs=%v,hardlinks=%v", o.DropDocs, o.Hardlinks), func(t *testing.T) {
			mem := fstree.New()
			want, err := Install(mem, debs, o)
			if err != nil {
				t.Fatal(err)
			}
			o.Spool = t.TempDir()
			spooled := fstree.New()
			got, err := Install(spooled, debs, o)
			if err != nil {
				t.Fatal(err)
			}
			compareTrees(t, describe(t, mem), describe(t, spooled))
			checkSpooled(t, spooled, o.Spool)
			if !reflect.DeepEqual(want, got) {
				t.Errorf("Installed differs:\n  in memory %+v\n  spooled   %+v", want, got)
			}
			if got.Packages[0].License != "BSD-2-clause" || got.Packages[1].License != "see copyright" {
				t.Errorf("licences %q, %q", got.Packages[0].License, got.Packages[1].License)
			}
		})
	}
}

// Identical contents are stored once in the spool, whichever package or path they come from, and
// nothing else is left there.
func TestSpoolDedup(t *testing.T) {
	a := makeDeb(t, "a", "1", "", nil, []ent{reg("./usr/share/a/data", "same"), reg("./usr/share/a/data2", "same"), reg("./usr/bin/a", "a")})
	b := makeDeb(t, "b", "1", "", nil, []ent{reg("./usr/share/b/data", "same"), reg("./usr/bin/b", "b")})
	spool := t.TempDir()
	tree := fstree.New()
	if _, err := Install(tree, []Deb{a, b}, Options{Spool: spool}); err != nil {
		t.Fatal(err)
	}
	var stored []string
	err := filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored = append(stored, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 3 {
		t.Errorf("spool holds %d files, want 3 (one per distinct content): %v", len(stored), stored)
	}
	src := get(t, tree, "usr/share/a/data").Source
	for _, p := range []string{"usr/share/a/data2", "usr/share/b/data"} {
		if e := get(t, tree, p); e.Source != src || e.Size != 4 {
			t.Errorf("%s: source %s size %d, want %s (shared)", p, e.Source, e.Size, src)
		}
	}
	checkSpooled(t, tree, spool)
	// A second Install into the same spool adds nothing.
	if _, err := Install(fstree.New(), []Deb{a, b}, Options{Spool: spool}); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if n != 3 {
		t.Errorf("after a second install the spool holds %d files, want 3", n)
	}
	if _, err := Install(fstree.New(), []Deb{a}, Options{Spool: filepath.Join(spool, "missing")}); err == nil {
		t.Error("a missing spool directory was accepted")
	}
}

// A hard link is an fstree.Hardlink with Options.Hardlinks and a copy without; squashfs stores the
// Hardlink as one inode with two names, as unsquashfs extracts it.
func TestHardlinks(t *testing.T) {
	d := makeDeb(t, "perl-like", "1", "", nil, []ent{
		dir("./usr/"), dir("./usr/bin/"),
		{name: "./usr/bin/perl5.40", body: "perl interpreter", mode: 0o755, gid: 3},
		link("./usr/bin/perl", "./usr/bin/perl5.40"),
	})
	for _, o := range []Options{{}, {Hardlinks: true}, {Spool: "spool"}, {Spool: "spool", Hardlinks: true}} {
		t.Run(fmt.Sprintf("spool=%v,hardlinks=%v", o.Spool != "", o.Hardlinks), func(t *testing.T) {
			if o.Spool != "" {
				o.Spool = t.TempDir()
			}
			tree := fstree.New()
			res, err := Install(tree, []Deb{d}, o)
			if err != nil {
				t.Fatal(err)
			}
			file, l := get(t, tree, "usr/bin/perl5.40"), get(t, tree, "usr/bin/perl")
			if o.Hardlinks {
				if l.Kind != fstree.Hardlink || l.Target != "usr/bin/perl5.40" {
					t.Errorf("link: %+v, want a hard link to usr/bin/perl5.40", l)
				}
			} else if l.Kind != fstree.File || sum(t, l) != sum(t, file) || l.Mode != file.Mode || l.GID != 3 || l.Source != file.Source {
				t.Errorf("link: %+v, want a copy of %+v", l, file)
			}
			if got := strings.Join(res.Packages[0].Files, " "); got != "usr/bin/perl usr/bin/perl5.40" {
				t.Errorf("Files: %s", got)
			}
			if list := string(get(t, tree, "var/lib/dpkg/info/perl-like.list").Data); !strings.Contains(list, "\n/usr/bin/perl\n") {
				t.Errorf("list:\n%s", list)
			}

			img := filepath.Join(t.TempDir(), "root.squashfs")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := squashfs.Write(f, tree, squashfs.Options{}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			dir := unsquash(t, img)
			var a, b unix.Stat_t
			if err := unix.Stat(filepath.Join(dir, "usr/bin/perl5.40"), &a); err != nil {
				t.Fatal(err)
			}
			if err := unix.Stat(filepath.Join(dir, "usr/bin/perl"), &b); err != nil {
				t.Fatal(err)
			}
			if shared := a.Ino == b.Ino; shared != o.Hardlinks || a.Nlink != map[bool]uint64{true: 2, false: 1}[o.Hardlinks] {
				t.Errorf("extracted: inodes %d and %d, %d links; want one inode with 2 links: %v", a.Ino, b.Ino, a.Nlink, o.Hardlinks)
			}
			if body, err := os.ReadFile(filepath.Join(dir, "usr/bin/perl")); err != nil || string(body) != "perl interpreter" {
				t.Errorf("extracted link: %q, %v", body, err)
			}
		})
	}
}

// unsquash extracts an image with squashfs-tools' unsquashfs, which makes a hard link for every
// name of one inode.
func unsquash(t *testing.T, img string) string {
	t.Helper()
	p, err := exec.LookPath("unsquashfs")
	if err != nil {
		t.Fatal("unsquashfs (Debian package squashfs-tools) is not installed")
	}
	dir := filepath.Join(t.TempDir(), "x")
	if out, err := exec.Command(p, "-no-progress", "-d", dir, img).CombinedOutput(); err != nil {
		t.Fatalf("unsquashfs: %v\n%s", err, out)
	}
	return dir
}

// A hard link keeps its package's content when the file it names is not in the tree as the
// package shipped it: a doc DropDocs left out, or a path another package won by override. The
// first such link becomes the file; later ones name it. Nothing dangles.
func TestHardlinkTargetGone(t *testing.T) {
	docs := makeDeb(t, "docs", "1", "", nil, []ent{
		reg("./usr/share/doc/docs/README", "readme"),
		link("./usr/share/docs/README", "./usr/share/doc/docs/README"),
		link("./usr/share/docs/README.too", "./usr/share/doc/docs/README"),
	})
	a := makeDeb(t, "pkg-a", "1", "", nil, []ent{reg("./usr/bin/x", "a"), link("./usr/bin/y", "./usr/bin/x"), link("./usr/bin/z", "./usr/bin/x")})
	b := makeDeb(t, "pkg-b", "1", "", nil, []ent{reg("./usr/bin/x", "b"), link("./usr/bin/w", "./usr/bin/x")})
	tests := []struct {
		name string
		debs []Deb
		opts Options
		want map[string]string // path -> content, or "-> target" for a hard link
	}{
		{"doc dropped", []Deb{docs}, Options{DropDocs: true, Hardlinks: true},
			map[string]string{"usr/share/docs/README": "readme", "usr/share/docs/README.too": "-> usr/share/docs/README", "usr/share/doc/docs/README": ""}},
		{"doc dropped, copies", []Deb{docs}, Options{DropDocs: true},
			map[string]string{"usr/share/docs/README": "readme", "usr/share/docs/README.too": "readme", "usr/share/doc/docs/README": ""}},
		{"doc kept", []Deb{docs}, Options{Hardlinks: true},
			map[string]string{"usr/share/doc/docs/README": "readme", "usr/share/docs/README": "-> usr/share/doc/docs/README", "usr/share/docs/README.too": "-> usr/share/doc/docs/README"}},
		{"later package wins the linked file", []Deb{a, b}, Options{Hardlinks: true, Overrides: map[string]string{"usr/bin/x": "pkg-b"}},
			map[string]string{"usr/bin/x": "b", "usr/bin/y": "a", "usr/bin/z": "-> usr/bin/y", "usr/bin/w": "-> usr/bin/x"}},
		{"earlier package keeps the linked file", []Deb{a, b}, Options{Hardlinks: true, Overrides: map[string]string{"usr/bin/x": "pkg-a"}},
			map[string]string{"usr/bin/x": "a", "usr/bin/y": "-> usr/bin/x", "usr/bin/z": "-> usr/bin/x", "usr/bin/w": "b"}},
		{"later package wins, copies", []Deb{a, b}, Options{Overrides: map[string]string{"usr/bin/x": "pkg-b"}},
			map[string]string{"usr/bin/x": "b", "usr/bin/y": "a", "usr/bin/z": "a", "usr/bin/w": "b"}},
	}
	for _, tc := range tests {
		for _, spool := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/spool=%v", tc.name, spool), func(t *testing.T) {
				o := tc.opts
				if spool {
					o.Spool = t.TempDir()
				}
				tree := fstree.New()
				if _, err := Install(tree, tc.debs, o); err != nil {
					t.Fatal(err)
				}
				for p, want := range tc.want {
					e, ok := tree.Get(p)
					got := ""
					switch {
					case !ok:
					case e.Kind == fstree.Hardlink:
						got = "-> " + e.Target
					case e.Kind == fstree.File:
						b, err := e.ReadAll()
						if err != nil {
							t.Fatal(err)
						}
						got = string(b)
					default:
						got = e.Kind.String()
					}
					if got != want {
						t.Errorf("%s: %q, want %q", p, got, want)
					}
				}
				// Every hard link names a file of the tree: squashfs takes it.
				f, err := os.Create(filepath.Join(t.TempDir(), "img"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := squashfs.Write(f, tree, squashfs.Options{}); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// Two packages writing one path differently conflict with contents spooled as in memory, and with
// hard links as with copies; the same content is no conflict, a hard link compared as its file.
func TestConflictSpooledAndLinked(t *testing.T) {
	fileA := makeDeb(t, "pkg-a", "1", "", nil, []ent{reg("./usr/bin/tool", "a"), reg("./usr/bin/same", "s")})
	fileB := makeDeb(t, "pkg-b", "1", "", nil, []ent{reg("./usr/bin/tool", "b"), reg("./usr/bin/same", "s")})
	// pkg-c ships usr/bin/same as a hard link to identical content, usr/bin/tool as one to other content.
	linkC := makeDeb(t, "pkg-c", "1", "", nil, []ent{reg("./usr/lib/c/s", "s"), link("./usr/bin/same", "./usr/lib/c/s"),
		reg("./usr/lib/c/t", "c"), link("./usr/bin/tool", "./usr/lib/c/t")})
	sameSize := makeDeb(t, "pkg-d", "1", "", nil, []ent{reg("./usr/bin/tool", "d"), reg("./usr/bin/same", "s")})
	pairs := [][2]Deb{{fileA, fileB}, {fileA, linkC}, {linkC, fileA}, {fileA, sameSize}}
	for _, o := range []Options{{}, {Spool: "x"}, {Hardlinks: true}, {Spool: "x", Hardlinks: true}} {
		for _, pair := range pairs {
			first, second := pair[0], pair[1]
			t.Run(fmt.Sprintf("%s-%s/spool=%v,hardlinks=%v", first.Package.Name, second.Package.Name, o.Spool != "", o.Hardlinks), func(t *testing.T) {
				o := o // each case sets its own spool and overrides
				if o.Spool != "" {
					o.Spool = t.TempDir()
				}
				_, err := Install(fstree.New(), []Deb{first, second}, o)
				var ce *ConflictError
				if !errors.As(err, &ce) || ce.Path != "usr/bin/tool" || ce.First != first.Package.Name || ce.Second != second.Package.Name {
					t.Fatalf("got %v, want a conflict on usr/bin/tool between %s and %s", err, first.Package.Name, second.Package.Name)
				}
				o.Overrides = map[string]string{"usr/bin/tool": second.Package.Name}
				tree := fstree.New()
				if _, err := Install(tree, []Deb{first, second}, o); err != nil {
					t.Fatal(err)
				}
				in := &installer{tree: tree}
				e, err := in.inode(get(t, tree, "usr/bin/tool"))
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{"pkg-a": "a", "pkg-b": "b", "pkg-c": "c", "pkg-d": "d"}[second.Package.Name]
				if b, err := e.ReadAll(); err != nil || string(b) != want {
					t.Errorf("override: usr/bin/tool holds %q, %v; want %q", b, err, want)
				}
				e, err = in.inode(get(t, tree, "usr/bin/same"))
				if err != nil {
					t.Fatal(err)
				}
				if b, err := e.ReadAll(); err != nil || string(b) != "s" || get(t, tree, "usr/bin/same").Origin != "deb:"+first.Package.Name {
					t.Errorf("usr/bin/same: %q, %v, %+v; want %s's kept", b, err, get(t, tree, "usr/bin/same"), first.Package.Name)
				}
			})
		}
	}
}
