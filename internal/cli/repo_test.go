package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/aptrepo"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debresolve"
	"github.com/genai-os/genai-build/internal/sign"
)

const repoEpoch = "1764400000" // 2025-11-29 07:06:40 UTC

func writeKey(t *testing.T, name string) (privPath string, public []byte) {
	t.Helper()
	k, err := sign.Generate(name, "test@genai-os.invalid", time.Unix(1764000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.ArmoredPrivate()
	if err != nil {
		t.Fatal(err)
	}
	privPath = filepath.Join(t.TempDir(), name+".asc")
	if err := os.WriteFile(privPath, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if public, err = k.Public(); err != nil {
		t.Fatal(err)
	}
	return privPath, public
}

// aptScratch is a root folder for apt and dpkg of their own: configuration, lists, archives and
// the dpkg database all inside it; nothing of the host's apt configuration is read (APT_CONFIG is
// read before /etc/apt/apt.conf.d, and names our own parts folder).
type aptScratch struct {
	root string
	env  []string
}

func newAptScratch(t *testing.T, url, keyring string) *aptScratch {
	t.Helper()
	r := t.TempDir()
	for _, d := range []string{"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/trusted.gpg.d",
		"var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg/info", "var/lib/dpkg/updates",
		"var/lib/dpkg/triggers", "var/log/apt"} {
		if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// dpkg installs into the scratch root (--root, its database under it) without privileges
	// (--force-not-root); apt runs it through Dir::Bin::dpkg.
	dpkg := fmt.Sprintf("#!/bin/sh\nexec dpkg --root=%s --force-not-root --force-bad-path --log=%s/var/log/dpkg.log \"$@\"\n", r, r)
	files := map[string]string{
		"var/lib/dpkg/status": "",
		"dpkg":                dpkg,
		"sources.list":        fmt.Sprintf("deb [signed-by=%s] %s/ stable main\n", keyring, url),
		"apt.conf": fmt.Sprintf(`Dir "%[1]s/";
Dir::State::status "%[1]s/var/lib/dpkg/status";
Dir::Etc "%[1]s/etc/apt/";
Dir::Etc::SourceList "%[1]s/sources.list";
Dir::Etc::SourceParts "-";
Dir::Etc::Parts "%[1]s/etc/apt/apt.conf.d/";
Dir::Etc::Trusted "%[1]s/etc/apt/trusted.gpg";
Dir::Etc::TrustedParts "%[1]s/etc/apt/trusted.gpg.d/";
Dir::Bin::dpkg "%[1]s/dpkg";
APT::Sandbox::User "%[2]s";
Debug::NoLocking "true";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
`, r, u.Username),
	}
	for name, body := range files {
		mode := os.FileMode(0o644)
		if name == "dpkg" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(r, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return &aptScratch{root: r, env: append(os.Environ(), "APT_CONFIG="+filepath.Join(r, "apt.conf"), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")}
}

func (a *aptScratch) run(args ...string) (string, error) {
	cmd := exec.Command("apt-get", args...)
	cmd.Env = a.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func dirBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRepoWithApt is the end-to-end check of `genai-build repo`: it builds the repository of our
// tools twice (the same bytes), serves it on 127.0.0.1, and has the host's real apt-get update
// (InRelease verified with the repository's key; refused with another key) and install
// consciousness-init into a scratch root through dpkg, without privileges; the installed
// binary runs. Our own lock and resolver read the same repository back.
func TestRepoWithApt(t *testing.T) {
	for _, tool := range []string{"apt-get", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: this test needs a Debian host's apt and dpkg", tool)
		}
	}
	keyFile, _ := writeKey(t, "repo-test")
	cacheDir := t.TempDir()
	env := map[string]string{"SOURCE_DATE_EPOCH": repoEpoch}
	out := filepath.Join(t.TempDir(), "repo")
	code, stdout, stderr := runCLI(t, env, "--root", "../..", "--cache-dir", cacheDir, "repo", "--out", out, "--key", keyFile)
	if code != 0 {
		t.Fatalf("repo: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "pool/main/c/consciousness-init/consciousness-init_0.1.0_amd64.deb") {
		t.Errorf("repo output:\n%s", stdout)
	}
	out2 := filepath.Join(t.TempDir(), "repo")
	if code, _, stderr := runCLI(t, env, "--root", "../..", "--cache-dir", cacheDir, "repo", "--out", out2, "--key", keyFile); code != 0 {
		t.Fatalf("repo (second run): exit %d: %s", code, stderr)
	}
	a, b := dirBytes(t, out), dirBytes(t, out2)
	if len(a) != len(b) {
		t.Errorf("two runs wrote %d and %d files", len(a), len(b))
	}
	for p, v := range a {
		if !bytes.Equal(v, b[p]) {
			t.Errorf("%s differs between two runs", p)
		}
	}

	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer srv.Close()
	keyring := filepath.Join(out, aptrepo.KeyringName)

	t.Run("apt", func(t *testing.T) {
		apt := newAptScratch(t, srv.URL, keyring)
		if o, err := apt.run("update", "--error-on=any"); err != nil {
			t.Fatalf("apt-get update: %v\n%s", err, o)
		}
		o, err := apt.run("install", "-y", "consciousness-init")
		if err != nil {
			t.Fatalf("apt-get install: %v\n%s", err, o)
		}
		t.Logf("apt-get install:\n%s", o)
		bin := filepath.Join(apt.root, "usr/sbin/consciousness-init")
		fi, err := os.Stat(bin)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("installed binary: %v %v", fi, err)
		}
		for _, l := range []string{"usr/bin/consciousness-manager", "usr/sbin/ssh-hostkey"} {
			if got, err := filepath.EvalSymlinks(filepath.Join(apt.root, l)); err != nil || got != bin {
				t.Errorf("%s -> %s, %v; want %s", l, got, err, bin)
			}
		}
		help, _ := exec.Command(filepath.Join(apt.root, "usr/bin/consciousness-manager"), "--help").CombinedOutput()
		if !strings.Contains(string(help), "usage: consciousness-manager") {
			t.Errorf("consciousness-manager --help from the scratch root:\n%s", help)
		}
		status, _ := os.ReadFile(filepath.Join(apt.root, "var/lib/dpkg/status"))
		if !strings.Contains(string(status), "Package: consciousness-init\nStatus: install ok installed\n") {
			t.Errorf("dpkg status:\n%s", status)
		}
		if _, err := os.Stat(filepath.Join(apt.root, "usr/share/doc/consciousness-init/copyright")); err != nil {
			t.Error(err)
		}
	})

	t.Run("apt-other-key", func(t *testing.T) {
		_, other := writeKey(t, "someone-else")
		ring := filepath.Join(t.TempDir(), "other.gpg")
		if err := os.WriteFile(ring, other, 0o644); err != nil {
			t.Fatal(err)
		}
		apt := newAptScratch(t, srv.URL, ring)
		o, err := apt.run("update", "--error-on=any")
		if err == nil || !strings.Contains(o, "NO_PUBKEY") {
			t.Fatalf("apt-get update with another key: %v\n%s", err, o)
		}
		if o, err := apt.run("install", "-y", "consciousness-init"); err == nil {
			t.Errorf("apt-get install from an unverified repository succeeded:\n%s", o)
		}
	})

	t.Run("our-reader", func(t *testing.T) {
		ring, err := os.ReadFile(keyring)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		f := &debian.Fetcher{Mirror: debian.Mirror{URL: srv.URL}, Cache: &cache.Cache{Dir: t.TempDir()}}
		_, ix, err := debian.OpenArchive(ctx, f, debian.ArchiveOptions{Release: "stable", Suites: []string{"stable"}, Arch: "amd64",
			Keyring: ring, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		res, err := debresolve.Resolve(ix, "amd64", []debresolve.Request{{Name: "consciousness-init"}}, debresolve.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Names(); len(got) != 1 || got[0] != "consciousness-init" {
			t.Fatalf("resolved %v (a static binary depends on nothing)", got)
		}
		p := res.Packages[0]
		if p.Version != "0.1.0" || p.Section != "admin" {
			t.Errorf("index: %+v", p.Package)
		}
		blob, err := f.FetchLockedVerified(ctx, p.Locked("consciousness-init"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := debian.OpenDeb(blob)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if d.Control().Get("Homepage") == "" || d.Control().Get("Maintainer") == "" {
			t.Errorf("control: %v", d.Control().Map())
		}
	})
}

func TestRepoErrors(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "--root", "../..", "--cache-dir", t.TempDir(), "repo", "--out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "no release key: give --key FILE or set GENAI_RELEASE_KEY") {
		t.Errorf("no key: exit %d: %s", code, stderr)
	}
	keyFile, _ := writeKey(t, "errors")
	code, _, stderr = runCLI(t, map[string]string{"SOURCE_DATE_EPOCH": repoEpoch}, "--root", "../..", "--cache-dir", t.TempDir(),
		"repo", "--out", t.TempDir(), "--key", keyFile, "--version", "v1")
	if code == 0 || !strings.Contains(stderr, "Debian Policy 5.6.12") {
		t.Errorf("bad version: exit %d: %s", code, stderr)
	}
}
