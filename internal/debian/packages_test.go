package debian

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseControl(t *testing.T) {
	in := "# a comment\nPackage: foo\nDescription: short\n more\n .\n  indented\n\n  \t\nPackage: bar\r\nVersion: 1\n\n\n"
	ps, err := ParseControl(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("got %d paragraphs", len(ps))
	}
	if got, want := ps[0].Get("description"), "short\nmore\n.\n indented"; got != want {
		t.Errorf("Description = %q, want %q", got, want)
	}
	if ps[0].Line != 2 || ps[1].Line != 9 || ps[1].Fields[1].Line != 10 {
		t.Errorf("lines: %d %d %d", ps[0].Line, ps[1].Line, ps[1].Fields[1].Line)
	}
	if ps[1].Get("Package") != "bar" {
		t.Errorf("bar: %+v", ps[1])
	}
}

func TestParseControlErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{" cont\n", "line 1: continuation"},
		{"A: 1\nno colon\n", "line 2: expected"},
		{"A: 1\n\nB: 2\nb: 3\n", "line 4: duplicate field"},
		{": x\n", "line 1: invalid field name"},
		{"A B: x\n", "line 1: invalid field name"},
	} {
		_, err := ParseControl(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

const packagesText = `Package: linux-image-amd64
Source: linux-signed-amd64 (6.12.57+deb13u1)
Version: 6.12.57-1
Installed-Size: 14
Depends: linux-image-6.12.57+deb13-amd64 (= 6.12.57-1)
Architecture: amd64
Description: Linux for 64-bit PCs (meta-package)
 This package depends on the latest Linux kernel.
Section: kernel
Priority: optional
Filename: pool/main/l/linux-signed-amd64/linux-image-amd64_6.12.57-1_amd64.deb
Size: 1500
SHA256: 1111111111111111111111111111111111111111111111111111111111111111

Package: linux-image-6.12.57+deb13-amd64
Source: linux-signed-amd64 (6.12.57+deb13u1)
Version: 6.12.57-1
Architecture: amd64
Pre-Depends: debconf | debconf-2.0
Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
Filename: pool/main/l/linux-signed-amd64/linux-image-6.12.57+deb13-amd64_6.12.57-1_amd64.deb
Size: 2000
SHA256: 2222222222222222222222222222222222222222222222222222222222222222

Package: foo
Version: 1.0-1
Architecture: all
Multi-Arch: foreign
Filename: pool/main/f/foo/foo_1.0-1_all.deb
Size: 10
SHA256: 3333333333333333333333333333333333333333333333333333333333333333

Package: foo
Version: 1:0.9-1
Architecture: all
Filename: pool/main/f/foo/foo_0.9-1_all.deb
Size: 11
SHA256: 4444444444444444444444444444444444444444444444444444444444444444

Package: foo
Version: 1.1~rc1-1
Architecture: all
Filename: pool/main/f/foo/foo_1.1~rc1-1_all.deb
Size: 12
SHA256: 5555555555555555555555555555555555555555555555555555555555555555
`

func TestParsePackagesAndLookup(t *testing.T) {
	pkgs, err := ParsePackages(strings.NewReader(packagesText))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 5 {
		t.Fatalf("%d packages", len(pkgs))
	}
	k := pkgs[0]
	if k.Source != "linux-signed-amd64" || k.Size != 1500 || k.Description != "Linux for 64-bit PCs (meta-package)" ||
		k.InstalledSize != "14" || k.Section != "kernel" || k.Fields["Priority"] != "optional" {
		t.Errorf("meta: %+v", k)
	}
	if pkgs[1].PreDepends != "debconf | debconf-2.0" || pkgs[2].MultiArch != "foreign" || pkgs[2].Source != "foo" {
		t.Errorf("fields: %+v %+v", pkgs[1], pkgs[2])
	}
	ix := NewIndex(pkgs)
	foo, ok := ix.Lookup("foo")
	if !ok || foo.Version != "1:0.9-1" {
		t.Errorf("Lookup(foo) = %q, %v; want the epoch-1 version", foo.Version, ok)
	}
	if vs := ix.Versions("foo"); vs[1].Version != "1.1~rc1-1" || vs[2].Version != "1.0-1" {
		t.Errorf("Versions order: %v, %v", vs[1].Version, vs[2].Version)
	}
	if _, ok := ix.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	if ix.Len() != 5 {
		t.Errorf("Len = %d", ix.Len())
	}
}

func TestParsePackagesErrors(t *testing.T) {
	for _, in := range []string{"Package: a\n", "Package: a\nVersion: 1\nSize: x\n"} {
		if _, err := ParsePackages(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	// Each pair is a < b; most are from dpkg's own test suite and Policy §5.6.12.
	less := [][2]string{
		{"1.0~rc1", "1.0"},
		{"1.0~~", "1.0~"},
		{"1.0~~a", "1.0~"},
		{"1.0~", "1.0"},
		{"1.0", "1.0a"},
		{"1.0", "1.0+"},
		{"1.0a", "1.0+"}, // letters sort before non-letters
		{"1.0", "1.0.1"},
		{"1.2", "1.10"},
		{"1.0-1", "1.0-2"},
		{"1.0-2", "1.0-10"},
		{"1.0-1", "1.0.1-1"},
		{"9.9", "1:0.1"},
		{"1:9", "2:0"},
		{"0:1.0-1", "1.0-1.1"},
		{"1.0", "1.0-0.1"},
		{"2.30-4", "2.30-4+deb11u1"},
		{"6.12.41-1", "6.12.57-1"},
		{"6.12.57+deb13", "6.12.57+deb13u1"},
		{"a", "b"},
		{"1.0~beta1~svn1245", "1.0~beta1"},
		{"1.0-1~bpo1", "1.0-1"},
		{"7", "10"},
		{"00123", "124"},
	}
	for _, p := range less {
		if c := CompareVersions(p[0], p[1]); c != -1 {
			t.Errorf("Compare(%q, %q) = %d, want -1", p[0], p[1], c)
		}
		if c := CompareVersions(p[1], p[0]); c != 1 {
			t.Errorf("Compare(%q, %q) = %d, want 1", p[1], p[0], c)
		}
	}
	equal := [][2]string{{"1.0", "1.0"}, {"0:1.0", "1.0"}, {"1.0-0", "1.0"}, {"1.01", "1.1"}, {"00:1", "1"}, {"1.0-", "1.0"}}
	for _, p := range equal {
		if c := CompareVersions(p[0], p[1]); c != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", p[0], p[1], c)
		}
	}
}

func TestParseRelations(t *testing.T) {
	got, err := ParseRelations("libc6 (>= 2.34), foo:any | bar [amd64 !i386] (<< 3) , baz (=1.0-1)\n , qux:amd64 [linux-any] <!nocheck> <stage1 cross>, old (> 1)")
	if err == nil {
		t.Fatalf("arch list before version should fail, got %v", got)
	}
	got, err = ParseRelations("libc6 (>= 2.34), foo:any | bar (<< 3) [amd64 !i386], baz (=1.0-1)\n , qux:amd64 [linux-any] <!nocheck> <stage1 cross>, old (> 1)")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Relation{
		{{Name: "libc6", Op: ">=", Version: "2.34"}},
		{{Name: "foo", Arch: "any"}, {Name: "bar", Op: "<<", Version: "3", Archs: []string{"amd64", "!i386"}}},
		{{Name: "baz", Op: "=", Version: "1.0-1"}},
		{{Name: "qux", Arch: "amd64", Archs: []string{"linux-any"}, Profiles: []string{"!nocheck", "stage1 cross"}}},
		{{Name: "old", Op: ">=", Version: "1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if r := got[1][1].String(); r != "bar (<< 3) [amd64 !i386]" {
		t.Errorf("String = %q", r)
	}
	if !got[0][0].SatisfiedBy("2.36-9") || got[0][0].SatisfiedBy("2.33") || !got[2][0].SatisfiedBy("1.0-1") {
		t.Error("SatisfiedBy")
	}
	if rs, err := ParseRelations("  "); rs != nil || err != nil {
		t.Errorf("empty: %v %v", rs, err)
	}
	for _, bad := range []string{"a,,b", "a (>= )", "a (~ 1)", "a (>= 1", "a [", "a []", "a | ", "Ä", "a:", "a <", "a b"} {
		if _, err := ParseRelations(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
