package debpack_test

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debpack"
)

var date = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func control() debpack.Control {
	return debpack.Control{
		Package: "hello-tool", Version: "1:0.1.0~rc1", Architecture: "amd64",
		Maintainer: "GenAI OS maintainers <maintainers@genai-os.invalid>", Section: "admin", Priority: "optional",
		Homepage: "https://github.com/genai-os/genai-build", Synopsis: "a tool that says hello",
		Long: "hello-tool prints a greeting. It is a static binary and needs no library, so the package has no Depends at all; this line is long enough to be wrapped.\n\nA second paragraph.\n  a verbatim line",
	}
}

func entries() []debpack.Entry {
	return []debpack.Entry{
		{Path: "usr/bin/hello-tool", Mode: 0o755, Data: []byte("#!/bin/sh\necho hello\n")},
		{Path: "usr/share/doc/hello-tool/copyright", Mode: 0o644, Data: bytes.Repeat([]byte("c"), 1500)},
		{Path: "usr/sbin/hello", Link: "../bin/hello-tool"},
	}
}

func build(t *testing.T) *debpack.Package {
	t.Helper()
	p, err := debpack.Build(control(), entries(), date)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestControlText(t *testing.T) {
	p := build(t)
	want := `Package: hello-tool
Version: 1:0.1.0~rc1
Architecture: amd64
Maintainer: GenAI OS maintainers <maintainers@genai-os.invalid>
Installed-Size: 11
Section: admin
Priority: optional
Homepage: https://github.com/genai-os/genai-build
Description: a tool that says hello
 hello-tool prints a greeting. It is a static binary and needs no
 library, so the package has no Depends at all; this line is long enough
 to be wrapped.
 .
 A second paragraph.
   a verbatim line
`
	// Installed-Size: 7 folders (the root, usr, usr/bin, usr/sbin, usr/share, usr/share/doc,
	// usr/share/doc/hello-tool) + the symlink + the 21-byte script (1 KiB) + the 1500-byte
	// copyright (2 KiB) = 11.
	if got := p.Control.Text(); got != want {
		t.Errorf("control:\n%s\nwant:\n%s", got, want)
	}
	if got := p.Filename(); got != "hello-tool_0.1.0~rc1_amd64.deb" {
		t.Errorf("Filename() = %s (the epoch is not part of the file name)", got)
	}
	c := control()
	c.Depends = "libc6 (>= 2.36)"
	if !strings.Contains(c.Text(), "\nDepends: libc6 (>= 2.36)\nSection:") {
		t.Errorf("Depends missing or misplaced:\n%s", c.Text())
	}
}

func TestValidate(t *testing.T) {
	for name, mod := range map[string]func(*debpack.Control){
		"package upper case": func(c *debpack.Control) { c.Package = "Hello" },
		"version no digit":   func(c *debpack.Control) { c.Version = "v1.0" },
		"version empty rev":  func(c *debpack.Control) { c.Version = "1.0-" },
		"version space":      func(c *debpack.Control) { c.Version = "1.0 beta" },
		"maintainer":         func(c *debpack.Control) { c.Maintainer = "nobody" },
		"synopsis too long":  func(c *debpack.Control) { c.Synopsis = strings.Repeat("x", 80) },
		"no long":            func(c *debpack.Control) { c.Long = " " },
		"no section":         func(c *debpack.Control) { c.Section = "" },
		"two-line depends":   func(c *debpack.Control) { c.Depends = "a\nb" },
	} {
		c := control()
		mod(&c)
		if _, err := debpack.Build(c, entries(), date); err == nil {
			t.Errorf("%s: built", name)
		}
	}
	for _, v := range []string{"0.1.0", "1:2.3-4", "0.1.0+git20261129~1", "2.0-1+deb13u1"} {
		if err := debpack.ValidVersion(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for name, es := range map[string][]debpack.Entry{
		"absolute":     {{Path: "/usr/bin/x", Data: []byte("x")}},
		"dot-dot":      {{Path: "../x", Data: []byte("x")}},
		"unclean":      {{Path: "usr//bin/x", Data: []byte("x")}},
		"twice":        {{Path: "usr/x", Data: []byte("x")}, {Path: "usr/x", Data: []byte("y")}},
		"file and dir": {{Path: "usr/x", Data: []byte("x")}, {Path: "usr/x/y", Data: []byte("y")}},
	} {
		if _, err := debpack.Build(control(), es, date); err == nil {
			t.Errorf("entries %s: built", name)
		}
	}
}

// TestReadBack reads the .deb with internal/debian's reader: the control paragraph, the md5sums
// against the data, owners, modes, times and links.
func TestReadBack(t *testing.T) {
	p := build(t)
	d, err := debian.ReadDeb(bytes.NewReader(p.Deb), int64(len(p.Deb)))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Control().Get("Package"); got != "hello-tool" {
		t.Errorf("Package %q", got)
	}
	if got := d.Control().Get("Installed-Size"); got != "11" {
		t.Errorf("Installed-Size %q", got)
	}
	if d.DataMember() != "data.tar.xz" {
		t.Errorf("data member %s", d.DataMember())
	}
	sums := map[string]string{}
	var ctlNames []string
	err = debian.WalkDebControl(bytes.NewReader(p.Deb), int64(len(p.Deb)), func(h *tar.Header, r io.Reader) error {
		ctlNames = append(ctlNames, h.Name)
		if h.Name == "md5sums" {
			b, _ := io.ReadAll(r)
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				sum, name, ok := strings.Cut(l, "  ")
				if !ok {
					t.Errorf("md5sums line %q", l)
				}
				sums[name] = sum
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ctlNames, " ") != "control md5sums" {
		t.Errorf("control.tar holds %v", ctlNames)
	}
	var names []string
	err = d.WalkData(func(h *tar.Header, r io.Reader) error {
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" || h.Gname != "root" {
			t.Errorf("%s: owner %d:%d %s:%s", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(date) {
			t.Errorf("%s: mtime %s", h.Name, h.ModTime)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, _ := io.ReadAll(r)
			sum := md5.Sum(b)
			if sums[h.Name] != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: md5sums says %q, data %x", h.Name, sums[h.Name], sum)
			}
			delete(sums, h.Name)
		case tar.TypeSymlink:
			if h.Name != "usr/sbin/hello" || h.Linkname != "../bin/hello-tool" {
				t.Errorf("symlink %s -> %s", h.Name, h.Linkname)
			}
		case tar.TypeDir:
			if h.Mode != 0o755 {
				t.Errorf("%s: mode %o", h.Name, h.Mode)
			}
		}
		if h.Name == "usr/bin/hello-tool" && h.Mode != 0o755 {
			t.Errorf("%s: mode %o", h.Name, h.Mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "usr usr/bin usr/bin/hello-tool usr/sbin usr/sbin/hello usr/share usr/share/doc usr/share/doc/hello-tool usr/share/doc/hello-tool/copyright"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("data entries:\n%s\nwant (sorted, folders first):\n%s", got, want)
	}
	if len(sums) != 0 {
		t.Errorf("md5sums lists files not in the data: %v", sums)
	}
	// ar headers: every member dated sourceDate, owned 0:0 (deb(5)).
	if !bytes.HasPrefix(p.Deb, []byte("!<arch>\ndebian-binary   1795953600  0     0     100644  4         `\n2.0\n")) {
		t.Errorf("ar start: %q", p.Deb[:80])
	}
}

func TestDeterministic(t *testing.T) {
	a, b := build(t), build(t)
	if !bytes.Equal(a.Deb, b.Deb) {
		t.Fatal("two builds of the same package differ")
	}
	es := entries()
	es[0], es[2] = es[2], es[0]
	c, err := debpack.Build(control(), es, date)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Deb, c.Deb) {
		t.Error("the order of the entries given changes the .deb")
	}
	d, err := debpack.Build(control(), entries(), date.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Deb, d.Deb) {
		t.Error("another source date gives the same .deb")
	}
}

// TestDpkgDeb checks the .deb with Debian's own tool: dpkg-deb --info and --contents.
func TestDpkgDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed (apt-get install dpkg)")
	}
	p := build(t)
	f := filepath.Join(t.TempDir(), p.Filename())
	if err := os.WriteFile(f, p.Deb, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-deb", "--info", f).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --info: %v\n%s", err, out)
	}
	for _, want := range []string{"new Debian package, version 2.0.", " control", " md5sums", "Package: hello-tool", "Installed-Size: 11", "  A second paragraph."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command("dpkg-deb", "--contents", f).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v\n%s", err, out)
	}
	for _, want := range []string{
		"drwxr-xr-x root/root         0 2026-11-29 12:00 ./usr/bin/",
		"-rwxr-xr-x root/root        21 2026-11-29 12:00 ./usr/bin/hello-tool",
		"lrwxrwxrwx root/root         0 2026-11-29 12:00 ./usr/sbin/hello -> ../bin/hello-tool",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dpkg-deb --contents lacks %q:\n%s", want, out)
		}
	}
	// dpkg-deb's own field reader agrees with ours.
	out, err = exec.Command("dpkg-deb", "--field", f, "Version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "1:0.1.0~rc1" {
		t.Errorf("dpkg-deb --field Version: %q, %v", out, err)
	}
}
