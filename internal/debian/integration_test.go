package debian_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debian/debiantest"
)

// TestRealArchive talks to the mirrors the tool would use ($GENAI_BUILD_MIRROR and
// $GENAI_BUILD_SECURITY_MIRROR, else the host's apt sources): it verifies the InRelease of trixie,
// trixie-updates and trixie-security with the repository's keyring (so that keyring holds the
// security archive's keys too), locks the boot packages across the three suites and opens one
// .deb. Skipped, loudly, only when the mirror does not answer at the TCP level.
func TestRealArchive(t *testing.T) {
	r := debiantest.Open(t)
	r.RequireNetwork(t)
	f := r.Fetcher
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	now := time.Now()
	for _, suite := range debian.FollowedSuites("trixie") {
		data, err := f.FetchRelease(ctx, suite)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := debian.VerifyInRelease(data, bytes.NewReader(r.Keyring), now)
		if err != nil {
			t.Fatalf("suite %s: %v", suite, err)
		}
		t.Logf("InRelease %s (%s), dated %s, valid until %s, signed by %v, by-hash %v", rel.Codename, rel.Suite, rel.Date, rel.ValidUntil, rel.SignedBy, rel.AcquireByHash)
	}

	start := time.Now()
	lock, err := debian.LockPackages(ctx, f, debian.ArchiveOptions{Release: "trixie", Arch: "amd64", Keyring: r.Keyring, Now: now}, []debian.Request{
		{Name: "linux-image-amd64", FollowDepends: "linux-image-"},
		{Name: "isolinux"}, {Name: "syslinux-common"}, {Name: "shim-signed"}, {Name: "grub-efi-amd64-signed"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("locked in %s", time.Since(start).Round(time.Millisecond))
	for _, s := range lock.Suites {
		t.Logf("  suite %s (%s): %s, %d bytes", s.Name, s.Archive, s.Index.Path, s.Index.Size)
	}
	for _, p := range lock.Packages {
		t.Logf("  %s %s from %s: %s (%d bytes, requested %s)", p.Name, p.Version, p.Suite, p.Filename, p.Size, p.Requested)
	}
	if len(lock.Suites) != 3 || lock.Suites[2].Archive != debian.ArchiveSecurity {
		t.Errorf("suites: %+v", lock.Suites)
	}
	k, ok := lock.Followed("linux-image-amd64")
	if !ok || !strings.HasPrefix(k.Name, "linux-image-6.") || !strings.HasSuffix(k.Name, "-amd64") {
		t.Errorf("kernel package: %+v", k)
	}
	if len(lock.Packages) != 6 {
		t.Errorf("%d packages locked, want 6", len(lock.Packages))
	}

	// The smallest of them, fetched and opened for real.
	small, _ := lock.Package("isolinux")
	p, err := f.FetchLocked(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	d, err := debian.OpenDeb(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	found := false
	if err := d.WalkData(func(h *tar.Header, _ io.Reader) error {
		found = found || h.Name == "usr/lib/ISOLINUX/isolinux.bin"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d.Control().Get("Package") != "isolinux" || !found {
		t.Errorf("isolinux .deb (%s): control %v, isolinux.bin found %v", d.DataMember(), d.Control().Get("Package"), found)
	}
}

// TestRealLockedIndex opens every index recipes/debian.lock pins, by digest (from the cache, else
// the mirrors), and finds each pinned package in it at its pinned version and suite.
func TestRealLockedIndex(t *testing.T) {
	r := debiantest.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ix, err := r.Fetcher.FetchLockedIndex(ctx, r.Lock)
	r.Need(t, "locked indices", err)
	for _, lp := range r.Lock.Packages {
		found := false
		for _, p := range ix.Versions(lp.Name) {
			found = found || (p.Version == lp.Version && p.Suite == lp.Suite && p.SHA256 == lp.SHA256)
		}
		if !found {
			t.Errorf("%s %s (%s) is not in the locked indices", lp.Name, lp.Version, lp.Suite)
		}
	}
}
