package debian

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/genai-os/genai-build/internal/cache"
)

// fakeArchive is a tiny signed Debian archive served over HTTP.
type fakeArchive struct {
	mu    sync.Mutex
	files map[string][]byte // path -> body
	hits  map[string]int
	key   *openpgp.Entity
	srv   *httptest.Server
	deb   []byte
}

func newFakeArchive(t *testing.T, byHash bool) *fakeArchive {
	t.Helper()
	a := &fakeArchive{files: map[string][]byte{}, hits: map[string]int{}, key: newKey(t, "archive")}
	a.deb = makeDeb(t, debControl, ".xz", ".xz", []tarFile{{Name: "./usr/lib/ISOLINUX/isolinux.bin", Body: "boot"}})
	pkgs := strings.Replace(packagesText, "Filename: pool/main/f/foo/foo_0.9-1_all.deb\nSize: 11\nSHA256: 4444444444444444444444444444444444444444444444444444444444444444",
		"Filename: pool/main/f/foo/foo_0.9-1_all.deb\nSize: "+strconv.Itoa(len(a.deb))+"\nSHA256: "+sha(a.deb), 1)
	idx := map[string][]byte{
		"main/binary-amd64/Packages.xz": compress(t, []byte(pkgs), ".xz"),
		"main/binary-amd64/Packages.gz": compress(t, []byte(pkgs), ".gz"),
	}
	text := releaseText(idx, "") // which says Acquire-By-Hash: yes
	if !byHash {
		text = strings.Replace(text, "Acquire-By-Hash: yes\n", "", 1)
	}
	a.files["dists/trixie/InRelease"] = clearsignWith(t, text, a.key)
	for n, b := range idx {
		a.files["dists/trixie/"+n] = b
		if byHash {
			a.files["dists/trixie/main/binary-amd64/by-hash/SHA256/"+sha(b)] = b
		}
	}
	a.files["pool/main/f/foo/foo_0.9-1_all.deb"] = a.deb
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		p := strings.TrimPrefix(r.URL.Path, "/debian/")
		a.hits[p]++
		b, ok := a.files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeArchive) set(path string, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = b
}

func (a *fakeArchive) fetcher(t *testing.T) *Fetcher {
	return &Fetcher{
		Mirror: Mirror{URL: a.srv.URL + "/debian", From: "test"},
		Cache:  &cache.Cache{Dir: t.TempDir()},
		Client: a.srv.Client(),
	}
}

func blobCount(t *testing.T, c *cache.Cache) int {
	ents, err := os.ReadDir(filepath.Join(c.Dir, "blobs", "sha256"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		} else {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	return n
}

func TestFetchIndexAndPackage(t *testing.T) {
	for _, byHash := range []bool{true, false} {
		a := newFakeArchive(t, byHash)
		f := a.fetcher(t)
		var progressed bool
		f.Progress = func(string, int64, int64) { progressed = true }
		ctx := context.Background()
		data, err := f.FetchRelease(ctx, "trixie")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := VerifyInRelease(data, bytes.NewReader(publicRing(t, a.key)), testTime)
		if err != nil {
			t.Fatal(err)
		}
		ix, err := f.FetchIndex(ctx, rel, "main", "amd64")
		if err != nil {
			t.Fatal(err)
		}
		if ix.File.Path != "dists/trixie/main/binary-amd64/Packages.xz" || !progressed {
			t.Errorf("index file %+v, progress %v", ix.File, progressed)
		}
		byHashPath := "dists/trixie/main/binary-amd64/by-hash/SHA256/" + ix.File.SHA256
		if got := a.hits[byHashPath]; (got == 1) != byHash {
			t.Errorf("byHash=%v: by-hash hits %d", byHash, got)
		}
		foo, _ := ix.Lookup("foo")
		p, err := f.FetchPackage(ctx, foo)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, a.deb) {
			t.Error("fetched .deb differs")
		}
		// Offline, a cached blob is found and a missing one is ErrMissing, naming the file.
		f.Offline = true
		if _, err := f.FetchPackage(ctx, foo); err != nil {
			t.Errorf("offline cached: %v", err)
		}
		meta, _ := ix.Lookup("linux-image-amd64")
		_, err = f.FetchPackage(ctx, meta)
		if !errors.Is(err, cache.ErrMissing) || !strings.Contains(err.Error(), meta.Filename) {
			t.Errorf("offline missing: %v", err)
		}
		if _, err := f.FetchIndex(ctx, rel, "main", "amd64"); err != nil {
			t.Errorf("offline cached index: %v", err)
		}
		if _, err := f.FetchRelease(ctx, "trixie"); !errors.Is(err, cache.ErrMissing) {
			t.Errorf("offline release: %v", err)
		}
	}
}

func TestFetchRefusesTampering(t *testing.T) {
	ctx := context.Background()
	a := newFakeArchive(t, true)
	ring := publicRing(t, a.key)
	f := a.fetcher(t)
	data, err := f.FetchRelease(ctx, "trixie")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := VerifyInRelease(data, bytes.NewReader(ring), testTime)
	if err != nil {
		t.Fatal(err)
	}
	before := blobCount(t, f.Cache) // the InRelease itself

	// A tampered index, on both paths: refused, nothing stored.
	evil := compress(t, []byte("Package: evil\nVersion: 1\n"), ".xz")
	good := a.files["dists/trixie/main/binary-amd64/Packages.xz"]
	a.set("dists/trixie/main/binary-amd64/by-hash/SHA256/"+sha(good), evil)
	a.set("dists/trixie/main/binary-amd64/Packages.xz", evil)
	_, err = f.FetchIndex(ctx, rel, "main", "amd64")
	var dm *cache.DigestMismatchError
	var sm *SizeMismatchError
	if !errors.As(err, &dm) && !errors.As(err, &sm) {
		t.Errorf("tampered index: err = %v", err)
	}
	if n := blobCount(t, f.Cache); n != before {
		t.Errorf("tampered index stored: %d blobs, want %d", n, before)
	}

	// A tampered .deb of the right size, and one of the wrong size: refused, nothing stored.
	pkg := Package{Name: "foo", Version: "1:0.9-1", Filename: "pool/main/f/foo/foo_0.9-1_all.deb", Size: int64(len(a.deb)), SHA256: sha(a.deb)}
	flipped := append([]byte{}, a.deb...)
	flipped[len(flipped)/2] ^= 1
	for name, body := range map[string][]byte{"same size": flipped, "longer": append(append([]byte{}, a.deb...), 0), "shorter": a.deb[:10]} {
		a.set(pkg.Filename, body)
		_, err := f.FetchPackage(ctx, pkg)
		if !errors.As(err, &dm) && !errors.As(err, &sm) {
			t.Errorf("%s: err = %v", name, err)
		}
		if n := blobCount(t, f.Cache); n != before {
			t.Errorf("%s: stored %d blobs, want %d", name, n, before)
		}
	}

	// A missing file and bad paths.
	if _, err := f.Fetch(ctx, "pool/none.deb", 1, sha([]byte("x"))); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	for _, p := range []string{"../x", "/x", "a/../../x", "a//b"} {
		if _, err := f.Fetch(ctx, p, 1, sha([]byte("x"))); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

func TestLockPackages(t *testing.T) {
	ctx := context.Background()
	a := newFakeArchive(t, true)
	f := a.fetcher(t)
	ring := publicRing(t, a.key)
	lock, err := LockPackages(ctx, f, oneSuite(ring), []Request{
		{Name: "linux-image-amd64", FollowDepends: "linux-image-"},
		{Name: "foo"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Packages) != 3 {
		t.Fatalf("packages: %+v", lock.Packages)
	}
	k, ok := lock.Followed("linux-image-amd64")
	if !ok || k.Name != "linux-image-6.12.57+deb13-amd64" || k.Version != "6.12.57-1" || k.Source != "linux-signed-amd64" {
		t.Errorf("kernel: %+v", k)
	}
	if foo, _ := lock.Package("foo"); foo.Version != "1:0.9-1" || foo.Requested != "foo" {
		t.Errorf("foo: %+v", foo)
	}
	s, ok := lock.SuiteEntry("trixie")
	if !ok || len(lock.Suites) != 1 || s.Archive != ArchiveMain {
		t.Fatalf("suites: %+v", lock.Suites)
	}
	if s.Release.SHA256 != sha(a.files["dists/trixie/InRelease"]) || s.Release.Date != "2026-11-21T09:15:44Z" {
		t.Errorf("release: %+v", s.Release)
	}
	if s.Index.Path != "dists/trixie/main/binary-amd64/Packages.xz" {
		t.Errorf("index: %+v", s.Index)
	}

	// Write, read back, write again: identical bytes.
	dir := t.TempDir()
	p := filepath.Join(dir, "debian.lock")
	if err := lock.Write(p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLock(p)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(p)
	if err := back.Write(p); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(p)
	if !bytes.Equal(first, second) || !bytes.HasSuffix(first, []byte("}\n")) {
		t.Errorf("not deterministic:\n%s\n%s", first, second)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}

	// The lock is enough to fetch offline once the blobs are cached.
	foo, _ := back.Package("foo")
	if _, err := f.FetchLocked(ctx, foo); err != nil {
		t.Fatal(err)
	}
	f.Offline = true
	if _, err := f.FetchLocked(ctx, foo); err != nil {
		t.Errorf("offline: %v", err)
	}
	f.Offline = false

	_, err = LockPackages(ctx, f, oneSuite(ring), []Request{{Name: "foo"}, {Name: "no-such-thing"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-thing") {
		t.Errorf("unknown package: %v", err)
	}
	_, err = LockPackages(ctx, f, oneSuite(publicRing(t, newKey(t, "other"))), []Request{{Name: "foo"}})
	if !errors.Is(err, ErrNotVerified) {
		t.Errorf("wrong keyring: %v", err)
	}
}

// TestFetchLockedIndex: the index a lock pins comes back by its digest, from the mirror's by-hash
// path, then from the cache alone; a file that does not match is refused and not cached.
func TestFetchLockedIndex(t *testing.T) {
	ctx := context.Background()
	a := newFakeArchive(t, true)
	lock, err := LockPackages(ctx, a.fetcher(t), oneSuite(publicRing(t, a.key)), []Request{{Name: "foo"}})
	if err != nil {
		t.Fatal(err)
	}
	byHash := "dists/trixie/main/binary-amd64/by-hash/SHA256/" + lock.Suites[0].Index.SHA256
	before := a.hits[byHash]
	f := a.fetcher(t) // an empty cache
	ix, err := f.FetchLockedIndex(ctx, lock)
	if err != nil {
		t.Fatal(err)
	}
	if foo, ok := ix.Lookup("foo"); !ok || foo.Suite != "trixie" {
		t.Errorf("foo %+v found %v", foo, ok)
	}
	if a.hits[byHash] != before+1 {
		t.Errorf("by-hash path not used: %v", a.hits)
	}
	f.Offline = true
	if _, err := f.FetchLockedIndex(ctx, lock); err != nil {
		t.Errorf("offline, cached: %v", err)
	}
	// A mirror whose file no longer matches the lock.
	g := a.fetcher(t)
	a.set(byHash, []byte("not the index"))
	if _, err := g.FetchLockedIndex(ctx, lock); err == nil {
		t.Error("a tampered index was accepted")
	}
	if n := blobCount(t, g.Cache); n != 0 {
		t.Errorf("%d blobs cached after a refused index", n)
	}
}

// oneSuite reads the fake archive's one suite, trixie.
func oneSuite(ring []byte) ArchiveOptions {
	return ArchiveOptions{Release: "trixie", Suites: []string{"trixie"}, Arch: "amd64", Keyring: ring, Now: testTime}
}

func TestReadLockErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown field": `{"suite":"trixie","architecture":"amd64","bogus":1}`,
		"bad sha":       `{"suite":"trixie","architecture":"amd64","packages":[{"name":"a","version":"1","filename":"pool/a.deb","sha256":"zz"}]}`,
		"bad path":      `{"suite":"trixie","architecture":"amd64","packages":[{"name":"a","version":"1","filename":"../a.deb","sha256":"` + sha(nil) + `"}]}`,
		"not json":      `suite: trixie`,
		"unknown suite": `{"suite":"trixie","architecture":"amd64","packages":[{"name":"a","version":"1","suite":"sid","filename":"pool/a.deb","sha256":"` + sha(nil) + `"}]}`,
		"wrong archive": `{"suite":"trixie","architecture":"amd64","suites":[{"name":"trixie-security","archive":"debian","release":{"sha256":"` + sha(nil) + `"},"index":{"path":"dists/x/Packages","sha256":"` + sha(nil) + `"}}]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".lock")
		os.WriteFile(p, []byte(body), 0o644)
		_, err := ReadLock(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, p)
		}
	}
}
