package debconfigure

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/debian/debiantest"
	"github.com/genai-os/genai-build/internal/debinstall"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/recipe"
)

// realSet unpacks a locked debian-packages set from the real archive (through the default build
// cache) and reads each package's control archive. It is skipped, loudly, only when the network
// is absent and the cache lacks a package.
func realSet(t *testing.T, name string) (*fstree.Tree, []Package, *recipe.Recipe) {
	t.Helper()
	real := debiantest.Open(t)
	r, err := recipe.Load(filepath.Join(real.Root, "recipes"), name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	locked, paths := real.FetchSet(t, ctx, name)
	var debs []debinstall.Deb
	var pkgs []Package
	for i, lp := range locked {
		debs = append(debs, debinstall.Deb{Package: lp, Path: paths[i]})
		c, err := ReadControl(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, c)
	}
	tree := fstree.New()
	if _, err := debinstall.Install(tree, debs, debinstall.Options{Overrides: r.Overrides}); err != nil {
		t.Fatal(err)
	}
	return tree, pkgs, r
}

func TestRealDeveloperSet(t *testing.T) {
	tree, pkgs, r := realSet(t, "developer-packages")
	start := time.Now()
	res, err := Configure(tree, pkgs, Options{Skip: r.Configure.Skip})
	var ue *UnhandledError
	if errors.As(err, &ue) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("configured %d packages in %s: %d effects classified, %d alternatives, %d certificates", len(pkgs), time.Since(start).Round(time.Millisecond), len(res.Effects), len(res.Alternatives), res.Certificates)
	count := map[How]int{}
	for _, e := range res.Effects {
		count[e.How]++
	}
	t.Logf("by kind: %v", count)
	for _, a := range res.Alternatives {
		t.Logf("  alternative %s -> %s (%d choices)", a.Name, a.Best, len(a.Choices))
	}
	for _, e := range res.Effects {
		if e.How == Skipped {
			t.Logf("  skipped on purpose: %s %s line %d: %s", e.Package, e.Script, e.Line, e.Name)
		}
	}

	// Every package with a script or a triggers file is classified.
	classified := map[string]bool{}
	for _, e := range res.Effects {
		classified[e.Package] = true
	}
	for _, p := range pkgs {
		for _, n := range []string{"preinst", "postinst", "config", "prerm", "postrm"} {
			if _, ok := p.Control[n]; ok && !classified[p.Name] {
				t.Errorf("package %s has a %s but no classified effect", p.Name, n)
			}
		}
	}

	// What Debian chooses for this set (the highest priority of each group's only choice here).
	want := map[string]string{
		"cc": "/usr/bin/gcc", "c++": "/usr/bin/g++", "c89": "/usr/bin/c89-gcc", "c99": "/usr/bin/c99-gcc",
		"cpp": "/usr/bin/cpp", "editor": "/bin/nano", "pico": "/bin/nano", "pager": "/usr/bin/less",
	}
	got := map[string]string{}
	for _, a := range res.Alternatives {
		got[a.Name] = a.Best
	}
	for n, p := range want {
		if got[n] != p {
			t.Errorf("alternative %s: %q, want %q", n, got[n], p)
		}
	}
	for link, name := range map[string]string{"usr/bin/cc": "cc", "usr/bin/c++": "c++", "usr/lib/cpp": "cpp", "usr/bin/editor": "editor", "usr/bin/pager": "pager"} {
		e, ok := tree.Get(link)
		if !ok || e.Kind != fstree.Symlink || e.Target != "/etc/alternatives/"+name {
			t.Errorf("%s: %+v, want a link to /etc/alternatives/%s", link, e, name)
		}
		if a, ok := tree.Get("etc/alternatives/" + name); !ok || a.Target != want[name] {
			t.Errorf("etc/alternatives/%s: %+v, want a link to %s", name, a, want[name])
		}
	}

	// The CA bundle: every Mozilla root of the package, readable by Go's crypto/x509.
	bundle, ok := tree.Get("etc/ssl/certs/ca-certificates.crt")
	if !ok {
		t.Fatal("no CA bundle")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle.Data) {
		t.Fatal("the CA bundle has no certificate")
	}
	var mozilla int
	for _, e := range tree.Entries() {
		if strings.HasPrefix(e.Path, "usr/share/ca-certificates/mozilla/") && strings.HasSuffix(e.Path, ".crt") {
			mozilla++
		}
	}
	if mozilla < 100 || res.Certificates != mozilla || strings.Count(string(bundle.Data), "BEGIN CERTIFICATE") != mozilla {
		t.Errorf("%d certificates in the bundle, %d Mozilla roots in the package", res.Certificates, mozilla)
	}
	for _, p := range []string{"etc/ssl/certs/ISRG_Root_X1.pem", "usr/lib/ssl"} {
		if _, ok := tree.Get(p); !ok {
			t.Errorf("%s missing", p)
		}
	}
	// The rules say sudo's chown/chmod of /etc/sudoers change nothing: check it.
	if e, ok := tree.Get("etc/sudoers"); !ok || e.PermBits() != 0o440 || e.UID != 0 || e.GID != 0 {
		t.Errorf("etc/sudoers: %+v, want root:root 0440", e)
	}

	// The host's dpkg and update-alternatives read the generated database as Debian's.
	admin := writeAdmindir(t, tree)
	if dpkg, err := exec.LookPath("dpkg"); err == nil {
		out, err := exec.Command(dpkg, "--admindir="+admin, "--audit").CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("dpkg --audit: %v\n%s", err, out)
		}
		out, err = exec.Command("dpkg-query", "--admindir="+admin, "-W", "-f=${db:Status-Abbrev}${Package}\n").Output()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		for _, l := range lines {
			if !strings.HasPrefix(l, "ii ") {
				t.Errorf("dpkg-query: %q is not ii", l)
			}
		}
		if len(lines) != len(pkgs) {
			t.Errorf("dpkg-query lists %d packages, want %d", len(lines), len(pkgs))
		}
	} else {
		t.Errorf("no dpkg on this host: %v", err)
	}
	if ua, err := exec.LookPath("update-alternatives"); err == nil {
		out, err := exec.Command(ua, "--admindir", filepath.Join(admin, "alternatives"), "--query", "cc").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Status: auto") || !strings.Contains(string(out), "Value: /usr/bin/gcc") {
			t.Errorf("update-alternatives --query cc: %v\n%s", err, out)
		}
	}
}

// writeAdmindir copies the tree's var/lib/dpkg to a host folder, for the host's dpkg to read.
func writeAdmindir(t *testing.T, tree *fstree.Tree) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range tree.Entries() {
		rel, ok := strings.CutPrefix(e.Path, "var/lib/dpkg/")
		if !ok {
			continue
		}
		p := filepath.Join(dir, rel)
		switch e.Kind {
		case fstree.Dir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case fstree.File:
			b, err := e.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}
