package aptrepo_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/aptrepo"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debpack"
	"github.com/genai-os/genai-build/internal/debresolve"
	"github.com/genai-os/genai-build/internal/sign"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var date = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func pkg(t testing.TB, name, depends string) *debpack.Package {
	t.Helper()
	p, err := debpack.Build(debpack.Control{
		Package: name, Version: "0.1.0", Architecture: "amd64", Maintainer: "GenAI OS maintainers <maintainers@genai-os.invalid>",
		Section: "admin", Priority: "optional", Depends: depends, Homepage: "https://github.com/genai-os/genai-build",
		Synopsis: name + " for tests", Long: "A package made by the test.",
	}, []debpack.Entry{{Path: "usr/bin/" + name, Mode: 0o755, Data: []byte("#!/bin/sh\necho " + name + "\n")}}, date)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func key(t testing.TB, name string) *sign.Key {
	t.Helper()
	k, err := sign.Generate(name, "test@genai-os.invalid", date.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func options(t testing.TB, out string, k *sign.Key) aptrepo.Options {
	return aptrepo.Options{Out: out, Suite: "stable", Origin: "GenAI OS", Component: "main", Arch: "amd64", SourceDate: date, Key: k}
}

func pkgs(t testing.TB) []*debpack.Package {
	// Given out of order: the index is sorted by name.
	return []*debpack.Package{pkg(t, "tool-b", ""), pkg(t, "tool-a", "tool-b")}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to rewrite):\n%s\nwant:\n%s", name, got, want)
	}
}

// TestGolden pins Packages and Release (the signatures are checked by TestReadBack and gpgv).
func TestGolden(t *testing.T) {
	files, debs, err := aptrepo.Files(options(t, "x", key(t, "golden")), pkgs(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "Packages.golden", files["dists/stable/main/binary-amd64/Packages"])
	golden(t, "Release.golden", files["dists/stable/Release"])
	want := []string{"pool/main/t/tool-a/tool-a_0.1.0_amd64.deb", "pool/main/t/tool-b/tool-b_0.1.0_amd64.deb"}
	if strings.Join(debs, " ") != strings.Join(want, " ") {
		t.Errorf("debs %v, want %v", debs, want)
	}
	if p := aptrepo.PoolPath("main", pkg(t, "libfoo", "")); p != "pool/main/libf/libfoo/libfoo_0.1.0_amd64.deb" {
		t.Errorf("PoolPath of a lib: %s", p)
	}
}

func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			out[rel+"/"] = fi.Mode().String()
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = fi.Mode().String() + " " + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteDeterministicAndAtomic writes the repository twice into two folders (same bytes),
// then over an existing one: it is replaced whole, and no temporary folder is left.
func TestWriteDeterministicAndAtomic(t *testing.T) {
	k := key(t, "det")
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	if _, err := aptrepo.Write(options(t, a, k), pkgs(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := aptrepo.Write(options(t, b, k), pkgs(t)); err != nil {
		t.Fatal(err)
	}
	ta, tb := tree(t, a), tree(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("%d entries vs %d", len(ta), len(tb))
	}
	for p, v := range ta {
		if tb[p] != v {
			t.Errorf("%s differs between two runs", p)
		}
	}
	for _, want := range []string{"genai-os-archive-keyring.gpg", "dists/stable/InRelease", "dists/stable/Release.gpg",
		"dists/stable/main/binary-amd64/Packages.gz", "pool/main/t/tool-a/tool-a_0.1.0_amd64.deb"} {
		if !strings.HasPrefix(ta[want], "-rw-r--r-- ") {
			t.Errorf("%s: %q", want, ta[want][:min(len(ta[want]), 20)])
		}
	}
	// Over an existing repository holding a stale file.
	os.WriteFile(filepath.Join(a, "stale"), []byte("x"), 0o644)
	if _, err := aptrepo.Write(options(t, a, k), pkgs(t)[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a, "stale")); !errors.Is(err, os.ErrNotExist) {
		t.Error("the old repository's file survived")
	}
	if _, err := os.Stat(filepath.Join(a, "pool/main/t/tool-a")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a package not given any more is still in the pool")
	}
	left, _ := filepath.Glob(filepath.Join(base, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary folders left: %v", left)
	}
	// A failure writes nothing.
	bad := options(t, filepath.Join(base, "c"), k)
	bad.Arch = "arm64"
	if _, err := aptrepo.Write(bad, pkgs(t)); err == nil {
		t.Error("amd64 packages written into an arm64 repository")
	}
	if _, err := os.Stat(filepath.Join(base, "c")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed write left its folder")
	}
}

func serve(t *testing.T, dir string) *httptest.Server {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

// TestReadBack reads the repository with our own archive code: InRelease verified with the
// repository's keyring (and refused with another key), the Packages index fetched by the digest
// the Release gives, the lock pinning tool-a, the resolver pulling in tool-b, and the .debs
// fetched by digest and opened.
func TestReadBack(t *testing.T) {
	k := key(t, "readback")
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := aptrepo.Write(options(t, dir, k), pkgs(t)); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, dir)
	keyring, err := os.ReadFile(filepath.Join(dir, aptrepo.KeyringName))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := &debian.Fetcher{Mirror: debian.Mirror{URL: srv.URL}, Cache: &cache.Cache{Dir: t.TempDir()}}
	ao := debian.ArchiveOptions{Release: "stable", Suites: []string{"stable"}, Arch: "amd64", Keyring: keyring, Now: date.Add(time.Hour)}
	lock, err := debian.LockPackages(ctx, f, ao, []debian.Request{{Name: "tool-a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Packages) != 1 || lock.Packages[0].Filename != "pool/main/t/tool-a/tool-a_0.1.0_amd64.deb" {
		t.Errorf("lock: %+v", lock.Packages)
	}
	_, ix, err := debian.OpenArchive(ctx, f, ao)
	if err != nil {
		t.Fatal(err)
	}
	res, err := debresolve.Resolve(ix, "amd64", []debresolve.Request{{Name: "tool-a"}}, debresolve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Names(), " "); got != "tool-a tool-b" {
		t.Errorf("resolved %s, want tool-a tool-b", got)
	}
	for _, p := range res.Locked() {
		blob, err := f.FetchLockedVerified(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := debian.OpenDeb(blob)
		if err != nil {
			t.Fatal(err)
		}
		if d.Control().Get("Package") != p.Name {
			t.Errorf("%s: the .deb says %s", p.Name, d.Control().Get("Package"))
		}
		d.Close()
	}

	// Another key: the same InRelease is refused.
	other, err := key(t, "other").Public()
	if err != nil {
		t.Fatal(err)
	}
	ao.Keyring = other
	if _, err := debian.LockPackages(ctx, f, ao, []debian.Request{{Name: "tool-a"}}); !errors.Is(err, debian.ErrNotVerified) {
		t.Errorf("InRelease checked with another key: %v, want ErrNotVerified", err)
	}
}

// TestGPGV checks InRelease and Release.gpg with gpgv, what apt runs, and the keyring file.
func TestGPGV(t *testing.T) {
	if _, err := exec.LookPath("gpgv"); err != nil {
		t.Skip("gpgv is not installed (apt-get install gpgv)")
	}
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := aptrepo.Write(options(t, dir, key(t, "gpgv")), pkgs(t)); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(dir, aptrepo.KeyringName)
	dist := filepath.Join(dir, "dists/stable")
	for _, args := range [][]string{
		{"--keyring", ring, filepath.Join(dist, "InRelease")},
		{"--keyring", ring, filepath.Join(dist, "Release.gpg"), filepath.Join(dist, "Release")},
	} {
		if out, err := exec.Command("gpgv", args...).CombinedOutput(); err != nil {
			t.Errorf("gpgv %v: %v\n%s", args, err, out)
		}
	}
	other, _ := key(t, "other").Public()
	otherRing := filepath.Join(t.TempDir(), "other.gpg")
	os.WriteFile(otherRing, other, 0o644)
	if out, err := exec.Command("gpgv", "--keyring", otherRing, filepath.Join(dist, "InRelease")).CombinedOutput(); err == nil {
		t.Errorf("gpgv accepted InRelease with another key:\n%s", out)
	}
}
