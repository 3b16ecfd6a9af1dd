// Package cache is the content-addressed store of downloads and stage outputs, under the XDG cache
// directory. Blobs are named by their SHA-256; a stage folder carries a manifest of its files'
// sizes and digests. Both are written under a temporary name, synced to disk, then renamed, so an
// interrupted build or a power cut never leaves a half-written entry; and both are checked again
// when they are used, so an entry damaged since is dropped and fetched or built again.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
)

// Cache is a directory holding blobs/sha256/<hex> and stages/<kind>/<key>.
type Cache struct {
	Dir string
	// Log receives a warning for every entry found corrupt and dropped; nil discards them.
	Log *slog.Logger
	// Remote, when set, is a second cache level: stages and blobs missing here are read through
	// it, and stages committed and blobs downloaded here are written back to it.
	Remote Remote
}

// ErrMissing is returned by Blob when the cache holds no such digest (an offline build must say so).
var ErrMissing = errors.New("not in the cache")

// CorruptError says that a cached entry failed its check when it was about to be used: it has been
// dropped. It matches ErrMissing (errors.Is), so a caller fetches or builds the entry again.
type CorruptError struct {
	Entry  string // "blob sha256:<hex>" or "stage <kind>/<key>"
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: corrupt (%s), dropped: %v", e.Entry, e.Reason, ErrMissing)
}

// Is makes a corrupt entry a missing one for the callers that fetch or build it again.
func (e *CorruptError) Is(target error) bool { return target == ErrMissing }

func (c *Cache) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// corrupt reports an entry that failed its check and removes it (rename first, so that no reader
// sees half of it removed), returning the error for the caller.
func (c *Cache) corrupt(entry, path, reason string) error {
	c.log().Warn("cache entry corrupt, dropped; it is fetched or built again", "entry", entry, "reason", reason)
	trash := filepath.Join(filepath.Dir(path), fmt.Sprintf(".trash-%d-%s", os.Getpid(), filepath.Base(path)))
	if err := os.Rename(path, trash); err == nil {
		os.RemoveAll(trash)
	}
	return &CorruptError{Entry: entry, Reason: reason}
}

// DefaultDir returns $GENAI_BUILD_CACHE, else $XDG_CACHE_HOME/genai-build, else ~/.cache/genai-build.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("GENAI_BUILD_CACHE"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "genai-build"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("cannot find a cache directory: set GENAI_BUILD_CACHE, XDG_CACHE_HOME or HOME")
	}
	return filepath.Join(home, ".cache", "genai-build"), nil
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// BlobPath is where the blob with this SHA-256 (lower-case hex) lives.
func (c *Cache) BlobPath(sha string) string {
	return filepath.Join(c.Dir, "blobs", "sha256", sha)
}

// Blob returns the path of a cached blob, or ErrMissing. It only looks for the file: use CheckBlob
// or VerifyBlob before reading it.
func (c *Cache) Blob(sha string) (string, error) {
	if !hexDigest.MatchString(sha) {
		return "", fmt.Errorf("invalid sha256 %q", sha)
	}
	p := c.BlobPath(sha)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("sha256:%s: %w", sha, ErrMissing)
		}
		return "", err
	}
	return p, nil
}

// CheckBlob is Blob that also checks the blob's size (when size >= 0): a cheap check that catches a
// truncated entry. A blob of the wrong size is dropped and reported as *CorruptError. A blob
// missing here is read through the Remote, if any (Blob looks only here).
func (c *Cache) CheckBlob(sha string, size int64) (string, error) {
	return c.checkBlob(sha, size, false)
}

// VerifyBlob is CheckBlob that also reads the blob and checks its SHA-256: call it before reading a
// blob's content. A blob that fails is dropped and reported as *CorruptError.
func (c *Cache) VerifyBlob(sha string, size int64) (string, error) {
	return c.checkBlob(sha, size, true)
}

func (c *Cache) checkBlob(sha string, size int64, digest bool) (string, error) {
	p, err := c.Blob(sha)
	if errors.Is(err, ErrMissing) && c.Remote != nil && c.remoteBlob(sha, size) {
		p, err = c.Blob(sha)
	}
	if err != nil {
		return "", err
	}
	entry := "blob sha256:" + sha
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if size >= 0 && fi.Size() != size {
		return "", c.corrupt(entry, p, fmt.Sprintf("%d bytes, want %d", fi.Size(), size))
	}
	if !digest {
		return p, nil
	}
	got, _, err := fileDigest(p)
	if err != nil {
		return "", err
	}
	if got != sha {
		return "", c.corrupt(entry, p, "sha256 "+got)
	}
	return p, nil
}

func fileDigest(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return digestOf(f)
}

func digestOf(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// DigestMismatchError says that content did not have the digest it was expected to have.
type DigestMismatchError struct {
	What      string
	Want, Got string
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("%s: sha256 mismatch: want %s, got %s", e.What, e.Want, e.Got)
}

// PutBlob copies r into the cache and checks that its SHA-256 is want (if want is empty, the blob is
// stored under whatever digest it has). Nothing is stored when the digest differs. The data reaches
// the disk (fsync) before the rename that publishes it, so a power cut leaves the whole blob or
// none. It returns the path and digest. A blob whose digest was known (want) is written back to
// the Remote, if any.
func (c *Cache) PutBlob(what string, r io.Reader, want string) (path, sha string, err error) {
	path, sha, err = c.putBlob(what, r, want, want != "")
	return path, sha, err
}

func (c *Cache) putBlob(what string, r io.Reader, want string, push bool) (path, sha string, err error) {
	dir := filepath.Join(c.Dir, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	sweep(dir)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = lockWriting(f); err != nil {
		return "", "", err
	}
	h := sha256.New()
	if _, err = io.Copy(io.MultiWriter(f, h), r); err != nil {
		return "", "", fmt.Errorf("%s: %w", what, err)
	}
	sha = hex.EncodeToString(h.Sum(nil))
	if want != "" && sha != want {
		return "", "", &DigestMismatchError{What: what, Want: want, Got: sha}
	}
	if err = f.Sync(); err != nil {
		return "", "", err
	}
	if err = f.Close(); err != nil {
		return "", "", err
	}
	path = c.BlobPath(sha)
	if err = os.Rename(f.Name(), path); err != nil {
		return "", "", err
	}
	if err := SyncDir(dir); err != nil {
		return "", "", err
	}
	if push && c.Remote != nil {
		c.pushBlob(sha, path)
	}
	return path, sha, nil
}

// SyncDir makes a rename or creation in dir durable (rename(2) is atomic, but only an fsync of the
// directory puts it on disk).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// StageDir is the folder holding the output of a build stage with this kind and input key (the
// hex hash of every input). Use CommitStage to populate it atomically.
func (c *Cache) StageDir(kind, key string) string {
	return filepath.Join(c.Dir, "stages", kind, key)
}

// Stage returns the folder of a completed stage output, or an error matching ErrMissing. The stage
// is checked against the manifest its commit wrote (ManifestName): the files named in use, or every
// recorded file when use is empty, must be there with their recorded size and SHA-256. Name only
// the files a warm build reads, so that a large stage (an unpacked kernel) costs nothing when most
// of it is not needed; look it up again without names before reading the rest. A stage that fails
// is dropped, with a warning, and reported as *CorruptError. A stage missing here (or dropped) is
// read through the Remote, if any, and checked whole.
func (c *Cache) Stage(kind, key string, use ...string) (string, error) {
	d, err := c.localStage(kind, key, use...)
	if errors.Is(err, ErrMissing) && c.Remote != nil {
		if rd, ok := c.remoteStage(kind, key); ok {
			return rd, nil
		}
	}
	return d, err
}

func (c *Cache) localStage(kind, key string, use ...string) (string, error) {
	d := c.StageDir(kind, key)
	entry := "stage " + kind + "/" + key
	m, err := readManifest(filepath.Join(d, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		if _, statErr := os.Stat(d); errors.Is(statErr, os.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", entry, ErrMissing)
		}
		return "", c.corrupt(entry, d, "no "+ManifestName)
	}
	if err != nil {
		return "", c.corrupt(entry, d, err.Error())
	}
	check := m
	if len(use) > 0 {
		check = make([]manifestEntry, 0, len(use))
		for _, name := range use {
			e, ok := m.find(filepath.ToSlash(name))
			if !ok {
				return "", c.corrupt(entry, d, name+" is not in its manifest")
			}
			check = append(check, e)
		}
	}
	if reason := verify(d, check); reason != "" {
		return "", c.corrupt(entry, d, reason)
	}
	return d, nil
}

// CommitStage runs fill on a fresh temporary folder and, if it succeeds, records every file's size
// and SHA-256 in the folder's manifest, syncs the files, the folders and the manifest to disk, and
// renames the folder to the stage's place: a power cut leaves either no stage or a whole one. A
// concurrent or earlier identical commit wins; its output is equal by construction. The stage is
// written back to the Remote, if any.
func (c *Cache) CommitStage(kind, key string, fill func(dir string) error) (string, error) {
	final := c.StageDir(kind, key)
	parent := filepath.Dir(final)
	tmp, unlock, err := c.tempStage(parent, key)
	if err != nil {
		return "", err
	}
	defer unlock() // after the rename: the folder is the stage then, and nobody sweeps it
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := writeManifest(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("stage %s/%s: %w", kind, key, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(final); statErr == nil {
			return final, nil
		}
		return "", err
	}
	if err := SyncDir(parent); err != nil {
		return "", err
	}
	if c.Remote != nil {
		c.pushStage(kind, key, final)
	}
	return final, nil
}

// tempStage makes a temporary folder for a stage in parent, held by this process until unlock.
func (c *Cache) tempStage(parent, key string) (tmp string, unlock func(), err error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", nil, err
	}
	sweep(parent)
	tmp, err = os.MkdirTemp(parent, ".tmp-"+key[:min(len(key), 12)]+"-*")
	if err != nil {
		return "", nil, err
	}
	lock, err := os.Open(tmp)
	if err == nil {
		if err = lockWriting(lock); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	return tmp, func() { lock.Close() }, nil
}

// Key hashes the parts (each length-prefixed so that parts cannot run into each other).
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
