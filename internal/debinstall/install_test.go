package debinstall

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debtest"
	"github.com/genai-os/genai-build/internal/fstree"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ent is one data.tar entry of a test package.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
}

func reg(name, body string) ent { return ent{name: name, body: body} }
func dir(name string) ent       { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func sym(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeSymlink, mode: 0o777}
}

// files converts entries to internal/debtest's.
func files(es []ent) []debtest.File {
	out := make([]debtest.File, len(es))
	for i, e := range es {
		out[i] = debtest.File{Name: e.name, Body: e.body, Link: e.link, Type: e.typ, Mode: e.mode, UID: e.uid, GID: e.gid}
	}
	return out
}

// makeDeb writes a .deb (deb(5): an ar archive of debian-binary, control.tar.gz, data.tar.gz)
// into dir and returns a Deb for it. scripts are control.tar members besides control.
func makeDeb(t *testing.T, name, version, extraControl string, scripts map[string]string, data []ent) Deb {
	t.Helper()
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Test <t@example.org>\n%sDescription: test package %s\n a longer description\n .\n with a blank line\n", name, version, extraControl, name)
	var ctl []ent
	for n, body := range scripts {
		ctl = append(ctl, ent{name: "./" + n, body: body, mode: 0o755})
	}
	b := debtest.Deb(t, control, ".gz", ".gz", files(ctl), files(data))
	p := filepath.Join(t.TempDir(), name+".deb")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return Deb{Package: debian.LockedPackage{Name: name, Version: version, SHA256: hex.EncodeToString(sum[:])}, Path: p}
}

const dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\nFiles: *\nCopyright: 2024 Someone\nLicense: BSD-2-clause\n\nFiles: debian/*\nLicense: GPL-2+\n"

func get(t *testing.T, tree *fstree.Tree, p string) *fstree.Entry {
	t.Helper()
	e, ok := tree.Get(p)
	if !ok {
		t.Fatalf("%s missing from the tree", p)
	}
	return e
}

func TestInstallModesOwnersLinks(t *testing.T) {
	d := makeDeb(t, "sshlike", "1:10.0p1-7", "", map[string]string{"postinst": "#!/bin/sh\n", "preinst": "#!/bin/sh\n", "md5sums": "abc  usr/bin/tool\n"}, []ent{
		dir("./"), dir("./usr/"), dir("./usr/bin/"),
		{name: "./usr/bin/tool", body: "ELF", mode: 0o4755},
		{name: "./usr/bin/tool2", typ: tar.TypeLink, link: "./usr/bin/tool", mode: 0o4755},
		sym("./usr/bin/slogin", "tool"),
		{name: "./run/", typ: tar.TypeDir, mode: 0o700, uid: 0, gid: 0},
		{name: "./var/mail/", typ: tar.TypeDir, mode: 0o2775, uid: 0, gid: 8},
		{name: "./etc/ssh/moduli", body: "m", mode: 0o600, uid: 0, gid: 42},
		dir("./usr/share/"), dir("./usr/share/doc/"), dir("./usr/share/doc/sshlike/"),
		reg("./usr/share/doc/sshlike/copyright", dep5),
	})
	tree := fstree.New()
	res, err := Install(tree, []Deb{d}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := get(t, tree, "usr/bin/tool"); e.Mode != 0o755|fs.ModeSetuid || string(e.Data) != "ELF" || e.Origin != "deb:sshlike" {
		t.Errorf("tool: %+v", e)
	}
	if e := get(t, tree, "usr/bin/tool2"); e.Kind != fstree.File || string(e.Data) != "ELF" || e.Mode != 0o755|fs.ModeSetuid {
		t.Errorf("hard link: %+v", e)
	}
	if e := get(t, tree, "usr/bin/slogin"); e.Kind != fstree.Symlink || e.Target != "tool" {
		t.Errorf("symlink: %+v", e)
	}
	if e := get(t, tree, "var/mail"); e.Kind != fstree.Dir || e.Mode != 0o775|fs.ModeSetgid || e.GID != 8 {
		t.Errorf("var/mail: %+v", e)
	}
	if e := get(t, tree, "run"); e.Mode != 0o700 {
		t.Errorf("run: %+v", e)
	}
	if e := get(t, tree, "etc/ssh/moduli"); e.Mode != 0o600 || e.GID != 42 {
		t.Errorf("moduli: %+v", e)
	}
	p := res.Packages[0]
	if strings.Join(p.Scripts, ",") != "postinst,preinst" || !p.HasMaintainerScripts() {
		t.Errorf("scripts %v", p.Scripts)
	}
	if p.License != "BSD-2-clause" || p.Version != "1:10.0p1-7" {
		t.Errorf("package %+v", p)
	}
	if got := string(get(t, tree, "var/lib/dpkg/info/sshlike.md5sums").Data); got != "abc  usr/bin/tool\n" {
		t.Errorf("md5sums %q", got)
	}
	list := string(get(t, tree, "var/lib/dpkg/info/sshlike.list").Data)
	if !strings.HasPrefix(list, "/.\n/usr\n/usr/bin\n/usr/bin/tool\n") {
		t.Errorf("list:\n%s", list)
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if e := get(t, tree, l); e.Kind != fstree.Symlink || e.Target != "usr/"+l {
			t.Errorf("%s: %+v", l, e)
		}
	}
}

func TestUsrMerge(t *testing.T) {
	d := makeDeb(t, "libc6", "2.41-12", "Multi-Arch: same\n", nil, []ent{
		dir("./"), dir("./lib/"), dir("./lib/x86_64-linux-gnu/"),
		reg("./lib/x86_64-linux-gnu/libc.so.6", "libc"),
		dir("./lib64/"), sym("./lib64/ld-linux-x86-64.so.2", "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		dir("./sbin/"), reg("./sbin/ldconfig", "ldconfig"),
		dir("./usr/"), dir("./usr/bin/"), reg("./usr/bin/ldd", "ldd"),
	})
	tree := fstree.New()
	res, err := Install(tree, []Deb{d}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"usr/lib/x86_64-linux-gnu/libc.so.6", "usr/sbin/ldconfig", "usr/bin/ldd"} {
		if e := get(t, tree, p); e.Kind != fstree.File {
			t.Errorf("%s: %+v", p, e)
		}
	}
	if e := get(t, tree, "usr/lib64/ld-linux-x86-64.so.2"); e.Kind != fstree.Symlink {
		t.Errorf("ld.so link: %+v", e)
	}
	if e := get(t, tree, "lib"); e.Kind != fstree.Symlink {
		t.Errorf("lib became %+v", e)
	}
	if _, ok := tree.Get("lib/x86_64-linux-gnu/libc.so.6"); ok {
		t.Error("libc.so.6 written under the lib symlink")
	}
	want := []string{"usr/bin/ldd", "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib64/ld-linux-x86-64.so.2", "usr/sbin/ldconfig"}
	if strings.Join(res.Packages[0].Files, " ") != strings.Join(want, " ") {
		t.Errorf("files %v", res.Packages[0].Files)
	}
	get(t, tree, "var/lib/dpkg/info/libc6:amd64.list")
}

func TestConflictAndOverride(t *testing.T) {
	a := makeDeb(t, "pkg-a", "1", "", nil, []ent{dir("./usr/"), dir("./usr/bin/"), reg("./usr/bin/tool", "a"), reg("./usr/bin/same", "s")})
	b := makeDeb(t, "pkg-b", "1", "", nil, []ent{dir("./usr/"), dir("./usr/bin/"), reg("./usr/bin/tool", "b"), reg("./usr/bin/same", "s")})

	_, err := Install(fstree.New(), []Deb{a, b}, Options{})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Path != "usr/bin/tool" || ce.First != "pkg-a" || ce.Second != "pkg-b" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "pkg-a") || !strings.Contains(err.Error(), "pkg-b") {
		t.Errorf("error does not name both: %v", err)
	}

	for _, winner := range []string{"pkg-a", "pkg-b"} {
		tree := fstree.New()
		res, err := Install(tree, []Deb{a, b}, Options{Overrides: map[string]string{"usr/bin/tool": winner}})
		if err != nil {
			t.Fatal(err)
		}
		e := get(t, tree, "usr/bin/tool")
		if string(e.Data) != winner[len(winner)-1:] || e.Origin != "deb:"+winner {
			t.Errorf("override %s: got %q from %s", winner, e.Data, e.Origin)
		}
		hasTool := strings.Contains(strings.Join(res.Packages[1].Files, " "), "usr/bin/tool")
		if hasTool != (winner == "pkg-b") {
			t.Errorf("override %s: pkg-b files %v", winner, res.Packages[1].Files)
		}
	}
}

func TestAttacksRefused(t *testing.T) {
	tests := []struct {
		name string
		data []ent
		want string
	}{
		{"dotdot", []ent{reg("./../x", "x")}, "leaves the package root"},
		{"absolute", []ent{reg("/etc/x", "x")}, "leaves the package root"},
		{"hard link out", []ent{{name: "./x", typ: tar.TypeLink, link: "../../etc/shadow"}}, "leaves the package root"},
		{"symlink to root", []ent{sym("./evil", "/"), reg("./evil/etc/passwd", "root::0:0::/:/bin/sh\n")}, "symlink to the absolute path /"},
		{"symlink climbing", []ent{sym("./a", "../../.."), reg("./a/x", "x")}, "leaves the tree"},
		{"nested climbing", []ent{dir("./usr/"), sym("./usr/a", "../../x"), reg("./usr/a/y", "y")}, "leaves the tree"},
		{"symlink chain", []ent{sym("./b", "c"), sym("./c", "/tmp"), reg("./b/x", "x")}, "absolute path /tmp"},
		{"directory through symlink", []ent{sym("./d", "/etc"), dir("./d/")}, "absolute path /etc"},
		{"loop", []ent{sym("./l1", "l2"), sym("./l2", "l1"), reg("./l1/x", "x")}, "too many levels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := makeDeb(t, "evil", "1", "", nil, tc.data)
			tree := fstree.New()
			_, err := Install(tree, []Deb{d}, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "evil") {
				t.Errorf("error does not name the package: %v", err)
			}
			for _, e := range tree.Entries() {
				if strings.Contains(e.Path, "passwd") || e.Path == "x" || strings.HasSuffix(e.Path, "/x") {
					t.Errorf("%s written", e.Path)
				}
			}
		})
	}
	// An earlier package's symlink is as dangerous as the package's own.
	a := makeDeb(t, "first", "1", "", nil, []ent{sym("./etc", "/etc")})
	b := makeDeb(t, "second", "1", "", nil, []ent{reg("./etc/passwd", "x")})
	if _, err := Install(fstree.New(), []Deb{a, b}, Options{}); err == nil || !strings.Contains(err.Error(), "second") {
		t.Errorf("got %v", err)
	}
	// Symlinks pointing anywhere are fine as data.
	c := makeDeb(t, "fine", "1", "", nil, []ent{sym("./usr/bin/vi", "/etc/alternatives/vi"), sym("./up", "../../..")})
	if _, err := Install(fstree.New(), []Deb{c}, Options{}); err != nil {
		t.Error(err)
	}
}

func TestTamperedDebRefused(t *testing.T) {
	d := makeDeb(t, "p", "1", "", nil, []ent{reg("./x", "x")})
	d.Package.SHA256 = strings.Repeat("0", 64)
	if _, err := Install(fstree.New(), []Deb{d}, Options{}); err == nil || !strings.Contains(err.Error(), "the lock pins") {
		t.Errorf("got %v", err)
	}
	d = makeDeb(t, "p", "1", "", nil, []ent{reg("./x", "x")})
	d.Package.Version = "2"
	if _, err := Install(fstree.New(), []Deb{d}, Options{}); err == nil || !strings.Contains(err.Error(), "holds p 1") {
		t.Errorf("got %v", err)
	}
}

func TestDropDocs(t *testing.T) {
	d := makeDeb(t, "docs", "1", "", nil, []ent{
		dir("./usr/"), dir("./usr/share/"), dir("./usr/share/doc/"), dir("./usr/share/doc/docs/"),
		reg("./usr/share/doc/docs/copyright", "free-form copyright\n"),
		reg("./usr/share/doc/docs/changelog.Debian.gz", "log"),
		dir("./usr/share/man/"), dir("./usr/share/man/man1/"), reg("./usr/share/man/man1/docs.1.gz", "man"),
		reg("./usr/share/info/docs.info.gz", "info"),
		reg("./usr/share/locale/de/LC_MESSAGES/docs.mo", "mo"),
		reg("./usr/share/docs-data/keep", "keep"),
		reg("./usr/share/doc-base/docs", "keep"),
	})
	other := makeDeb(t, "docs-extra", "1", "", nil, []ent{sym("./usr/share/doc/docs-extra", "docs")})
	tree := fstree.New()
	res, err := Install(tree, []Deb{d, other}, Options{DropDocs: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"usr/share/doc/docs/changelog.Debian.gz", "usr/share/man", "usr/share/man/man1/docs.1.gz", "usr/share/info/docs.info.gz", "usr/share/locale/de/LC_MESSAGES/docs.mo"} {
		if _, ok := tree.Get(p); ok {
			t.Errorf("%s kept", p)
		}
	}
	for _, p := range []string{"usr/share/doc/docs/copyright", "usr/share/docs-data/keep", "usr/share/doc-base/docs", "usr/share/doc/docs-extra"} {
		get(t, tree, p)
	}
	if res.Packages[0].License != "see copyright" || res.Packages[1].License != "see copyright" {
		t.Errorf("licences %q %q", res.Packages[0].License, res.Packages[1].License)
	}
	if list := string(get(t, tree, "var/lib/dpkg/info/docs.list").Data); strings.Contains(list, "man") {
		t.Errorf("list names dropped files:\n%s", list)
	}
}

func TestStatusGolden(t *testing.T) {
	b := makeDeb(t, "zlib1g", "1:1.3.dfsg-1", "Multi-Arch: same\nDepends: libc6 (>= 2.14)\n", map[string]string{"postinst": "", "conffiles": ""}, []ent{reg("./usr/lib/x86_64-linux-gnu/libz.so.1", "z")})
	a := makeDeb(t, "base", "13", "Essential: yes\nPriority: required\n", nil, []ent{reg("./etc/debian_version", "13\n")})
	build := func() []byte {
		tree := fstree.New()
		if _, err := Install(tree, []Deb{b, a}, Options{}); err != nil {
			t.Fatal(err)
		}
		return get(t, tree, "var/lib/dpkg/status").Data
	}
	got := build()
	if again := build(); !bytes.Equal(got, again) {
		t.Error("status differs between two installs")
	}
	golden := filepath.Join("testdata", "status.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
	// dpkg must be able to read it back.
	paras, err := debian.ParseControl(bytes.NewReader(got))
	if err != nil || len(paras) != 2 || paras[0].Get("Package") != "base" || paras[1].Get("Status") != "install ok installed" {
		t.Errorf("status reads back as %v, %v", paras, err)
	}
}

func TestLicense(t *testing.T) {
	for in, want := range map[string]string{
		dep5:                                     "BSD-2-clause",
		"Format: x\nFiles: *\nLicense:\n text\n": "see copyright",
		"This package was debianized":            "see copyright",
		"":                                       "see copyright",
	} {
		if got := License([]byte(in)); got != want {
			t.Errorf("License(%.30q) = %q, want %q", in, got, want)
		}
	}
}
