package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ManifestName is the file in every stage folder that records the stage's contents, one line per
// file ("f <sha256> <size> <path>") or symlink ("l <target> <path>"), tab-separated, sorted by path.
const ManifestName = ".genai-stage-manifest"

type manifestEntry struct {
	path   string // slash-separated, relative to the stage folder
	link   bool
	target string // for a symlink
	sha    string // for a file
	size   int64
}

type manifest []manifestEntry

func (m manifest) find(p string) (manifestEntry, bool) {
	i := sort.Search(len(m), func(i int) bool { return m[i].path >= p })
	if i < len(m) && m[i].path == p {
		return m[i], true
	}
	return manifestEntry{}, false
}

func readManifest(p string) (manifest, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var m manifest
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case len(f) == 4 && f[0] == "f" && hexDigest.MatchString(f[1]):
			size, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || size < 0 {
				return nil, fmt.Errorf("%s:%d: bad size %q", ManifestName, n, f[2])
			}
			m = append(m, manifestEntry{path: f[3], sha: f[1], size: size})
		case len(f) == 3 && f[0] == "l":
			m = append(m, manifestEntry{path: f[2], link: true, target: f[1]})
		default:
			return nil, fmt.Errorf("%s:%d: malformed line", ManifestName, n)
		}
	}
	if !sort.SliceIsSorted(m, func(i, j int) bool { return m[i].path < m[j].path }) {
		return nil, fmt.Errorf("%s: not sorted", ManifestName)
	}
	return m, sc.Err()
}

// verify checks entries of the stage folder dir against their records, on every CPU, and returns
// why the first that fails does ("" when all pass).
func verify(dir string, entries manifest) string {
	var (
		mu     sync.Mutex
		reason string
		wg     sync.WaitGroup
		next   = make(chan manifestEntry)
	)
	fail := func(s string) {
		mu.Lock()
		if reason == "" {
			reason = s
		}
		mu.Unlock()
	}
	for range min(runtime.GOMAXPROCS(0), max(len(entries), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				p := filepath.Join(dir, filepath.FromSlash(e.path))
				if e.link {
					if t, err := os.Readlink(p); err != nil || t != e.target {
						fail(fmt.Sprintf("%s: symlink changed or missing", e.path))
					}
					continue
				}
				fi, err := os.Lstat(p)
				if err != nil || !fi.Mode().IsRegular() {
					fail(fmt.Sprintf("%s: missing or not a file", e.path))
					continue
				}
				if fi.Size() != e.size {
					fail(fmt.Sprintf("%s: %d bytes, want %d", e.path, fi.Size(), e.size))
					continue
				}
				sha, _, err := fileDigest(p)
				if err != nil {
					fail(fmt.Sprintf("%s: %v", e.path, err))
				} else if sha != e.sha {
					fail(fmt.Sprintf("%s: sha256 %s, want %s", e.path, sha, e.sha))
				}
			}
		}()
	}
	for _, e := range entries {
		next <- e
	}
	close(next)
	wg.Wait()
	return reason
}

// writeManifest records every file and symlink under dir, syncs each file and folder to disk, and
// writes the manifest (synced too). Only regular files, folders and symlinks may be in a stage.
func writeManifest(dir string) error {
	m, dirs, err := scanStage(dir, false)
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, ManifestName), m.encode()); err != nil {
		return err
	}
	return syncDirs(dirs)
}

// scanStage records every file and symlink under dir (each file synced to disk and hashed) and
// lists its folders. The stage's own manifest is skipped when withManifest is set (a stage
// imported from a remote brings it), refused otherwise.
func scanStage(dir string, withManifest bool) (m manifest, dirs []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.ContainsAny(rel, "\t\n") {
			return fmt.Errorf("%s: a tab or newline in a name cannot be recorded", rel)
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m = append(m, manifestEntry{path: rel, link: true, target: t})
		case d.Type().IsRegular():
			if rel == ManifestName {
				if withManifest {
					return nil
				}
				return errors.New(ManifestName + " is the cache's own name")
			}
			sha, size, err := syncAndDigest(p)
			if err != nil {
				return err
			}
			m = append(m, manifestEntry{path: rel, sha: sha, size: size})
		default:
			return fmt.Errorf("%s: a %s cannot be cached", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(m, func(i, j int) bool { return m[i].path < m[j].path })
	return m, dirs, nil
}

func (m manifest) encode() []byte {
	var b bytes.Buffer
	for _, e := range m {
		if e.link {
			fmt.Fprintf(&b, "l\t%s\t%s\n", e.target, e.path)
		} else {
			fmt.Fprintf(&b, "f\t%s\t%d\t%s\n", e.sha, e.size, e.path)
		}
	}
	return b.Bytes()
}

// syncDirs syncs folders children first: each folder's sync makes its entries durable.
func syncDirs(dirs []string) error {
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := SyncDir(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// syncAndDigest flushes a file written by a stage to disk and returns its SHA-256 and size.
func syncAndDigest(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("fsync %s: %w", p, err)
	}
	return digestOf(f)
}

func writeSynced(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RecordedSHA256 returns the SHA-256 that the manifest of the stage holding the file p recorded
// for it: a stage's files were checked when the stage was looked up, so a caller that needs their
// digests (for a build manifest) need not read them again.
func (c *Cache) RecordedSHA256(p string) (string, error) {
	stages := filepath.Join(c.Dir, "stages")
	for dir := filepath.Dir(p); strings.HasPrefix(dir, stages+string(filepath.Separator)); dir = filepath.Dir(dir) {
		m, err := readManifest(filepath.Join(dir, ManifestName))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return "", err
		}
		if e, ok := m.find(filepath.ToSlash(rel)); ok && !e.link {
			return e.sha, nil
		}
		return "", fmt.Errorf("%s: not recorded in its stage's manifest", p)
	}
	return "", fmt.Errorf("%s: not in a stage of the cache", p)
}
