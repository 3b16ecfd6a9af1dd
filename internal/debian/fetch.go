package debian

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/ulikunitz/xz"
)

// Fetcher downloads files from a mirror into the cache, verifying each against the digest and size
// it is expected to have.
type Fetcher struct {
	Mirror   Mirror // the main archive: the release and its -updates suite
	Security Mirror // the security archive (<codename>-security); may be empty when nothing is fetched from it
	Cache    *cache.Cache
	Client   *http.Client // nil: http.DefaultClient
	Offline  bool         // never touch the network; a missing blob is an error wrapping cache.ErrMissing
	Progress func(name string, done, total int64)
}

// maxInRelease bounds the one download whose size is not known ahead (trixie's is 140 KB).
const maxInRelease = 16 << 20

// HTTPError is a non-200 answer from the mirror.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// SizeMismatchError says a download did not have the size the index promised.
type SizeMismatchError struct {
	What      string
	Want, Got int64 // Got is a lower bound when the download was longer than Want
}

func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("%s: size mismatch: want %d bytes, got %d", e.What, e.Want, e.Got)
}

// Fetch returns the cache path of the file at relPath (relative to the main mirror's root) with
// the given size (-1 if unknown) and SHA-256; see FetchFrom.
func (f *Fetcher) Fetch(ctx context.Context, relPath string, size int64, sha256 string) (string, error) {
	return f.FetchFrom(ctx, ArchiveMain, relPath, size, sha256)
}

// FetchFrom returns the cache path of the file at relPath (relative to archive's root) with the
// given size (-1 if unknown) and SHA-256. It downloads the file only when the cache lacks it;
// a download that does not match is refused and nothing is stored.
func (f *Fetcher) FetchFrom(ctx context.Context, archive Archive, relPath string, size int64, sha256 string) (string, error) {
	sha256 = strings.ToLower(sha256)
	if !hexDigest(sha256) {
		return "", fmt.Errorf("fetch %s: invalid sha256 %q", relPath, sha256)
	}
	if err := checkRelPath(relPath); err != nil {
		return "", err
	}
	if f.Cache == nil {
		return "", fmt.Errorf("fetch %s: no cache", relPath)
	}
	// A cached blob of the wrong size (truncated) is dropped by CheckBlob and fetched again.
	p, err := f.Cache.CheckBlob(sha256, size)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, cache.ErrMissing) {
		return "", fmt.Errorf("fetch %s: %w", relPath, err)
	}
	if f.Offline {
		return "", fmt.Errorf("fetch %s offline: %w", relPath, err)
	}
	var out string
	err = f.get(ctx, archive, relPath, func(body io.Reader, total int64) error {
		if size >= 0 && total >= 0 && total != size {
			return &SizeMismatchError{What: relPath, Want: size, Got: total}
		}
		if size >= 0 {
			body = &exactReader{r: body, what: relPath, want: size}
		}
		p, _, err := f.Cache.PutBlob(relPath, body, sha256)
		out = p
		return err
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// FetchPackage fetches a package's .deb by the Filename, Size and SHA256 of its index stanza,
// from the archive of its suite.
func (f *Fetcher) FetchPackage(ctx context.Context, p Package) (string, error) {
	if p.Filename == "" {
		return "", fmt.Errorf("package %s %s: no Filename", p.Name, p.Version)
	}
	path, err := f.FetchFrom(ctx, ArchiveOf(p.Suite), p.Filename, p.Size, p.SHA256)
	if err != nil {
		return "", fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
	}
	return path, nil
}

// FetchLocked fetches a package pinned in a lock file.
func (f *Fetcher) FetchLocked(ctx context.Context, p LockedPackage) (string, error) {
	return f.FetchPackage(ctx, Package{Name: p.Name, Version: p.Version, Filename: p.Filename, Size: p.Size, SHA256: p.SHA256, Suite: p.Suite})
}

// FetchLockedVerified is FetchLocked that also checks the cached blob's SHA-256: call it right
// before reading the blob. A blob damaged since it was downloaded is dropped (with a warning on the
// cache's log) and fetched again.
func (f *Fetcher) FetchLockedVerified(ctx context.Context, p LockedPackage) (string, error) {
	if f.Cache == nil {
		return "", fmt.Errorf("package %s %s: no cache", p.Name, p.Version)
	}
	path, err := f.Cache.VerifyBlob(strings.ToLower(p.SHA256), p.Size)
	if err == nil {
		return path, nil
	}
	if !errors.Is(err, cache.ErrMissing) {
		return "", fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
	}
	return f.FetchLocked(ctx, p)
}

// FetchRelease downloads dists/<suite>/InRelease from the suite's archive. Its digest cannot be known ahead, so the bytes
// are returned unverified (pass them to VerifyInRelease) and also stored in the cache under
// whatever digest they have, for the record. Offline, there is nothing to fetch it by.
func (f *Fetcher) FetchRelease(ctx context.Context, suite string) ([]byte, error) {
	if suite == "" || strings.ContainsAny(suite, "/\\") || strings.Contains(suite, "..") {
		return nil, fmt.Errorf("invalid suite %q", suite)
	}
	rel := "dists/" + suite + "/InRelease"
	if f.Offline {
		return nil, fmt.Errorf("fetch %s offline (use the lock file): %w", rel, cache.ErrMissing)
	}
	var data []byte
	err := f.get(ctx, ArchiveOf(suite), rel, func(body io.Reader, _ int64) error {
		var err error
		data, err = io.ReadAll(io.LimitReader(body, maxInRelease+1))
		if err != nil {
			return fmt.Errorf("GET %s: %w", rel, err)
		}
		if len(data) > maxInRelease {
			return fmt.Errorf("GET %s: larger than %d bytes", rel, maxInRelease)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.Cache != nil {
		if _, _, err := f.Cache.PutBlob(rel, bytes.NewReader(data), ""); err != nil {
			return nil, fmt.Errorf("caching %s: %w", rel, err)
		}
	}
	return data, nil
}

// FetchLockedIndex fetches the Packages indices a lock pins (one per suite), each by its SHA-256:
// from the cache, else by its by-hash path, else by its name. The digests were taken from
// verified InRelease files when the lock was written, so the indices need no signature of their
// own here. The result holds every suite's packages, each tagged with its suite; Lookup gives the
// highest version, as the lock did.
func (f *Fetcher) FetchLockedIndex(ctx context.Context, lock *Lock) (*Index, error) {
	var all []Package
	for _, s := range lock.Suites {
		ref := s.Index
		ext := path.Ext(ref.Path)
		if ext != ".xz" && ext != ".gz" {
			ext = ""
		}
		ix, err := f.fetchIndexFile(ctx, ArchiveOf(s.Name), s.Name, []string{path.Dir(ref.Path) + "/by-hash/SHA256/" + ref.SHA256, ref.Path}, ext, ref)
		if err != nil {
			return nil, fmt.Errorf("suite %s: %w", s.Name, err)
		}
		all = append(all, ix.all()...)
	}
	return NewIndex(all), nil
}

// fetchIndexFile fetches a Packages file of suite from the first of paths the archive has (a 404
// tries the next), verified by ref's size and digest, and parses it (ext: its compression).
func (f *Fetcher) fetchIndexFile(ctx context.Context, archive Archive, suite string, paths []string, ext string, ref LockedFile) (*Index, error) {
	var blob string
	var err error
	for _, p := range paths {
		blob, err = f.FetchFrom(ctx, archive, p, ref.Size, ref.SHA256)
		var he *HTTPError
		if err == nil || !errors.As(err, &he) || he.Status != http.StatusNotFound {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", ref.Path, err)
	}
	pkgs, err := parsePackagesFile(blob, ext)
	if err != nil {
		return nil, fmt.Errorf("index %s (%s): %w", ref.Path, blob, err)
	}
	for i := range pkgs {
		pkgs[i].Suite = suite
	}
	ix := NewIndex(pkgs)
	ix.File = ref
	return ix, nil
}

// FetchIndex fetches, verifies against rel and parses <component>/binary-<arch>/Packages, taking
// the .xz, else the .gz, else the plain file, whichever rel lists first. When rel says
// Acquire-By-Hash, the by-hash path is tried first (it cannot change under us while the mirror
// syncs), then the plain one. A file that does not match rel is refused outright.
func (f *Fetcher) FetchIndex(ctx context.Context, rel *Release, component, arch string) (*Index, error) {
	base := component + "/binary-" + arch + "/"
	for _, ext := range []string{".xz", ".gz", ""} {
		name := base + "Packages" + ext
		ref, ok := rel.Files[name]
		if !ok {
			continue
		}
		dist := "dists/" + rel.Dist + "/"
		paths := []string{dist + name}
		if rel.AcquireByHash {
			paths = []string{dist + base + "by-hash/SHA256/" + ref.SHA256, dist + name}
		}
		return f.fetchIndexFile(ctx, ArchiveOf(rel.Dist), rel.Dist, paths, ext, LockedFile{Path: dist + name, Size: ref.Size, SHA256: ref.SHA256})
	}
	return nil, fmt.Errorf("release %s lists no %sPackages index", rel.Dist, base)
}

func parsePackagesFile(blob, ext string) ([]Package, error) {
	file, err := os.Open(blob)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	// Buffered: the xz decoder reads byte by byte, a system call each on a bare *os.File.
	var r io.Reader = bufio.NewReaderSize(file, 1<<16)
	switch ext {
	case ".xz":
		if r, err = xz.NewReader(r); err != nil {
			return nil, err
		}
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	return ParsePackages(r)
}

// get GETs <archive's mirror>/relPath and hands the body and its announced length (-1 if none) to
// use. It retries transport failures and 5xx answers a few times, never a body that use refused.
func (f *Fetcher) get(ctx context.Context, archive Archive, relPath string, use func(body io.Reader, total int64) error) error {
	m, err := f.MirrorFor(archive)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", relPath, err)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	url := m.URL + "/" + relPath
	var lastErr error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				return err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			lastErr = &HTTPError{URL: url, Status: resp.StatusCode}
			if resp.StatusCode >= 500 {
				continue
			}
			return lastErr
		}
		var body io.Reader = resp.Body
		if f.Progress != nil {
			body = &progressReader{r: body, name: relPath, total: resp.ContentLength, fn: f.Progress}
		}
		err = use(body, resp.ContentLength)
		resp.Body.Close()
		return err
	}
	return fmt.Errorf("fetch %s: %w", relPath, lastErr)
}

func checkRelPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("invalid mirror path %q", p)
	}
	return nil
}

// exactReader fails, instead of ending, when its reader is shorter or longer than want, so that
// cache.PutBlob stores nothing.
type exactReader struct {
	r    io.Reader
	what string
	want int64
	n    int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if rem := e.want - e.n + 1; int64(len(p)) > rem {
		p = p[:rem] // read one byte past want to notice a longer body
	}
	n, err := e.r.Read(p)
	e.n += int64(n)
	if e.n > e.want {
		return n, &SizeMismatchError{What: e.what, Want: e.want, Got: e.n}
	}
	if err == io.EOF && e.n != e.want {
		return n, &SizeMismatchError{What: e.what, Want: e.want, Got: e.n}
	}
	return n, err
}

type progressReader struct {
	r           io.Reader
	name        string
	done, total int64
	fn          func(string, int64, int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.fn(p.name, p.done, p.total)
	return n, err
}
