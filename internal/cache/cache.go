// Package cache is the content-addressed store of downloads and stage outputs, under the XDG cache
// directory. Blobs are named by their SHA-256 and written atomically (temporary name, then rename),
// so an interrupted build never leaves a half-written entry and the next run simply fetches again.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// Cache is a directory holding blobs/sha256/<hex> and stages/<kind>/<key>.
type Cache struct {
	Dir string
}

// ErrMissing is returned by Blob when the cache holds no such digest (an offline build must say so).
var ErrMissing = errors.New("not in the cache")

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

// Blob returns the path of a cached blob, or ErrMissing.
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

// DigestMismatchError says that content did not have the digest it was expected to have.
type DigestMismatchError struct {
	What      string
	Want, Got string
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("%s: sha256 mismatch: want %s, got %s", e.What, e.Want, e.Got)
}

// PutBlob copies r into the cache and checks that its SHA-256 is want (if want is empty, the blob is
// stored under whatever digest it has). Nothing is stored when the digest differs. It returns the path
// and digest.
func (c *Cache) PutBlob(what string, r io.Reader, want string) (path, sha string, err error) {
	dir := filepath.Join(c.Dir, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
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
	h := sha256.New()
	if _, err = io.Copy(io.MultiWriter(f, h), r); err != nil {
		return "", "", fmt.Errorf("%s: %w", what, err)
	}
	sha = hex.EncodeToString(h.Sum(nil))
	if want != "" && sha != want {
		return "", "", &DigestMismatchError{What: what, Want: want, Got: sha}
	}
	if err = f.Close(); err != nil {
		return "", "", err
	}
	path = c.BlobPath(sha)
	if err = os.Rename(f.Name(), path); err != nil {
		return "", "", err
	}
	return path, sha, nil
}

// StageDir is the folder holding the output of a build stage with this kind and input key (the
// hex hash of every input). Use Commit to populate it atomically.
func (c *Cache) StageDir(kind, key string) string {
	return filepath.Join(c.Dir, "stages", kind, key)
}

// Stage returns the folder of a completed stage output, or ErrMissing.
func (c *Cache) Stage(kind, key string) (string, error) {
	d := c.StageDir(kind, key)
	if _, err := os.Stat(d); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("stage %s/%s: %w", kind, key, ErrMissing)
		}
		return "", err
	}
	return d, nil
}

// CommitStage runs fill on a fresh temporary folder and, if it succeeds, renames the folder to the
// stage's place. A concurrent or earlier identical commit wins; its output is equal by construction.
func (c *Cache) CommitStage(kind, key string, fill func(dir string) error) (string, error) {
	final := c.StageDir(kind, key)
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+key[:min(len(key), 12)]+"-*")
	if err != nil {
		return "", err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(final); statErr == nil {
			return final, nil
		}
		return "", err
	}
	return final, nil
}

// Key hashes the parts (each length-prefixed so that parts cannot run into each other).
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
