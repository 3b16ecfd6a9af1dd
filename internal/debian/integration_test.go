package debian

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
)

// TestRealArchive talks to the mirror the tool would use (flag unset: $GENAI_BUILD_MIRROR, then
// the host's apt sources). It is skipped when there is none or it cannot be reached. Set
// GENAI_BUILD_CACHE to keep the ~10 MB Packages.xz between runs.
func TestRealArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("network test in -short mode")
	}
	m, err := ResolveMirror("", os.Getenv, "/")
	if err != nil {
		t.Skipf("no mirror: %v", err)
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	probe, _ := http.NewRequestWithContext(ctx, http.MethodHead, m.URL+"/dists/trixie/InRelease", nil)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(probe)
	if err != nil {
		t.Skipf("mirror %s (from %s) unreachable: %v", m.URL, m.From, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Skipf("mirror %s (from %s): %s", m.URL, m.From, resp.Status)
	}

	dir := os.Getenv("GENAI_BUILD_CACHE")
	if dir == "" {
		dir = t.TempDir()
	}
	f := &Fetcher{Mirror: m, Cache: &cache.Cache{Dir: dir}, Client: client}
	_, file, _, _ := runtime.Caller(0)
	keyring, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "recipes", "keys", "debian-archive-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	data, err := f.FetchRelease(ctx, "trixie")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := VerifyInRelease(data, bytes.NewReader(keyring), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("InRelease %s %s %s, dated %s, signed by %v, by-hash %v", rel.Suite, rel.Codename, rel.Version, rel.Date, rel.SignedBy, rel.AcquireByHash)

	start := time.Now()
	lock, err := LockPackages(ctx, f, "trixie", "amd64", bytes.NewReader(keyring), now, []Request{
		{Name: "linux-image-amd64", FollowDepends: "linux-image-"},
		{Name: "isolinux"}, {Name: "syslinux-common"}, {Name: "shim-signed"}, {Name: "grub-efi-amd64-signed"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("locked in %s from %s (%d bytes)", time.Since(start).Round(time.Millisecond), lock.Index.Path, lock.Index.Size)
	for _, p := range lock.Packages {
		t.Logf("  %s %s %s (%d bytes, requested %s)", p.Name, p.Version, p.Filename, p.Size, p.Requested)
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
	d, err := OpenDeb(p)
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
