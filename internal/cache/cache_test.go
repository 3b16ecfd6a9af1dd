package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// newCache is a cache in a temporary folder whose warnings land in the returned buffer.
func newCache(t *testing.T) (*Cache, *syncBuffer) {
	var log syncBuffer
	return &Cache{Dir: t.TempDir(), Log: slog.New(slog.NewTextHandler(&log, nil))}, &log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeFiles(dir string, files map[string]string) error {
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// leftovers lists what is in the stage kind's folder besides finished stages.
func leftovers(t *testing.T, c *Cache, kind string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(c.Dir, "stages", kind))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

var stageFiles = map[string]string{"vmlinuz": "kernel", "modules/a/b.ko": "module b", "meta.json": "{}"}

func TestCommitStageIsAtomic(t *testing.T) {
	c, _ := newCache(t)
	key := Key("atomic")
	// A failing fill leaves nothing, and a stage being filled is not visible.
	_, err := c.CommitStage("k", key, func(dir string) error {
		if err := writeFiles(dir, stageFiles); err != nil {
			return err
		}
		if _, err := c.Stage("k", key); !errors.Is(err, ErrMissing) {
			t.Errorf("a stage being filled was found: %v", err)
		}
		return errors.New("fill failed")
	})
	if err == nil || err.Error() != "fill failed" {
		t.Fatalf("err = %v, want the fill's", err)
	}
	if _, err := os.Stat(c.StageDir("k", key)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed commit left the stage: %v", err)
	}
	// A file type that cannot be recorded fails the commit too.
	_, err = c.CommitStage("k", key, func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644) })
	if err == nil {
		t.Error("a stage holding a fifo was committed")
	}
	if l := leftovers(t, c, "k"); len(l) != 0 {
		t.Errorf("failed commits left %v", l)
	}
	dir, err := c.CommitStage("k", key, func(dir string) error {
		if err := writeFiles(dir, stageFiles); err != nil {
			return err
		}
		return os.Symlink("vmlinuz", filepath.Join(dir, "link"))
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("module b"))
	want := "l\tvmlinuz\tlink\nf\t44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\t2\tmeta.json\n" +
		fmt.Sprintf("f\t%s\t8\tmodules/a/b.ko\n", hex.EncodeToString(sum[:]))
	if !strings.HasPrefix(string(m), want) {
		t.Errorf("manifest:\n%s\nwant it to begin with:\n%s", m, want)
	}
	if got, err := c.Stage("k", key); err != nil || got != dir {
		t.Errorf("Stage = %q, %v; want %q", got, err, dir)
	}
}

// Two builds making one stage at once both succeed, with one whole stage and no temporary folders.
func TestTwoWritersOfOneStage(t *testing.T) {
	c, log := newCache(t)
	key := Key("two writers")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CommitStage("k", key, func(dir string) error {
				time.Sleep(time.Duration(i%3) * time.Millisecond)
				return writeFiles(dir, stageFiles)
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if _, err := c.Stage("k", key); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, c, "k"); len(l) != 0 {
		t.Errorf("temporary folders left: %v", l)
	}
	if log.String() != "" {
		t.Errorf("warnings: %s", log)
	}
}

func TestCorruptStageIsDropped(t *testing.T) {
	for name, damage := range map[string]func(dir string) error{
		"a byte changed": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "modules/a/b.ko"), []byte("module c"), 0o644)
		},
		"truncated":   func(dir string) error { return os.Truncate(filepath.Join(dir, "modules/a/b.ko"), 3) },
		"removed":     func(dir string) error { return os.Remove(filepath.Join(dir, "modules/a/b.ko")) },
		"no manifest": func(dir string) error { return os.Remove(filepath.Join(dir, ManifestName)) },
		"garbled manifest": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, ManifestName), []byte("f\tzz\n"), 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, log := newCache(t)
			key := Key(name)
			dir, err := c.CommitStage("k", key, func(dir string) error { return writeFiles(dir, stageFiles) })
			if err != nil {
				t.Fatal(err)
			}
			if err := damage(dir); err != nil {
				t.Fatal(err)
			}
			if name != "no manifest" && name != "garbled manifest" {
				// Only the files in use are checked: the damaged module goes unnoticed.
				if _, err := c.Stage("k", key, "vmlinuz", "meta.json"); err != nil {
					t.Fatalf("Stage(vmlinuz, meta.json) = %v, want it found", err)
				}
			}
			_, err = c.Stage("k", key)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrMissing) {
				t.Fatalf("Stage = %v, want a *CorruptError matching ErrMissing", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the corrupt stage is still there: %v", err)
			}
			if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "stage k/"+key) {
				t.Errorf("no warning naming the stage: %q", log)
			}
			if l := leftovers(t, c, "k"); len(l) != 0 {
				t.Errorf("left behind: %v", l)
			}
			// Built again, it is found again.
			if _, err := c.CommitStage("k", key, func(dir string) error { return writeFiles(dir, stageFiles) }); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Stage("k", key); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCorruptBlobIsDropped(t *testing.T) {
	c, log := newCache(t)
	data := []byte("a Debian package")
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	if _, _, err := c.PutBlob("x.deb", bytes.NewReader(data), strings.Repeat("0", 64)); err == nil {
		t.Fatal("a blob with the wrong digest was stored")
	}
	if _, err := c.Blob(strings.Repeat("0", 64)); !errors.Is(err, ErrMissing) {
		t.Fatalf("Blob = %v, want ErrMissing", err)
	}
	p, _, err := c.PutBlob("x.deb", bytes.NewReader(data), sha)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyBlob(sha, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	// Same size, other bytes: only the digest shows it.
	if err := os.WriteFile(p, []byte("a Debian packagE"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckBlob(sha, int64(len(data))); err != nil {
		t.Fatalf("CheckBlob = %v: the size is right", err)
	}
	if _, err := c.VerifyBlob(sha, int64(len(data))); !errors.Is(err, ErrMissing) {
		t.Fatalf("VerifyBlob = %v, want a corrupt entry matching ErrMissing", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the corrupt blob is still there: %v", err)
	}
	// Truncated: the cheap check sees it.
	if _, _, err := c.PutBlob("x.deb", bytes.NewReader(data), sha); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 4); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := c.CheckBlob(sha, int64(len(data))); !errors.As(err, &ce) {
		t.Fatalf("CheckBlob = %v, want a *CorruptError", err)
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, log)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 0 {
		t.Errorf("left in blobs/sha256: %v", entries)
	}
}

// What a killed writer left (a temporary name nobody holds) is removed by the next writer; a name
// another writer holds, or one just made, is left alone.
func TestSweepRemovesWhatKilledWritersLeft(t *testing.T) {
	c, _ := newCache(t)
	kinds := filepath.Join(c.Dir, "stages", "k")
	blobs := filepath.Join(c.Dir, "blobs", "sha256")
	old := time.Now().Add(-time.Minute)
	mk := func(p string, dir bool) {
		t.Helper()
		var err error
		if dir {
			err = os.MkdirAll(filepath.Join(p, "sub"), 0o755)
		} else if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
			err = os.WriteFile(p, []byte("half"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{".tmp-dead", ".tmp-held", ".tmp-young", ".trash-1-x"} {
		mk(filepath.Join(kinds, d), true)
	}
	mk(filepath.Join(blobs, ".tmp-dead"), false)
	for _, p := range []string{filepath.Join(kinds, ".tmp-dead"), filepath.Join(kinds, ".tmp-held"), filepath.Join(kinds, ".trash-1-x"), filepath.Join(blobs, ".tmp-dead")} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	held, err := os.Open(filepath.Join(kinds, ".tmp-held"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := lockWriting(held); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CommitStage("k", Key("x"), func(dir string) error { return writeFiles(dir, stageFiles) }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutBlob("x", strings.NewReader("x"), ""); err != nil {
		t.Fatal(err)
	}
	if got, want := leftovers(t, c, "k"), []string{".tmp-held", ".tmp-young"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("left in stages/k: %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(blobs, ".tmp-dead")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dead blob download is still there: %v", err)
	}
}

func TestRecordedSHA256(t *testing.T) {
	c, _ := newCache(t)
	dir, err := c.CommitStage("k", Key("r"), func(dir string) error { return writeFiles(dir, stageFiles) })
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("module b"))
	if got, err := c.RecordedSHA256(filepath.Join(dir, "modules", "a", "b.ko")); err != nil || got != hex.EncodeToString(sum[:]) {
		t.Errorf("RecordedSHA256 = %s, %v; want %x", got, err, sum)
	}
	for _, p := range []string{filepath.Join(dir, "nothing"), filepath.Join(t.TempDir(), "x")} {
		if _, err := c.RecordedSHA256(p); err == nil {
			t.Errorf("RecordedSHA256(%s) succeeded", p)
		}
	}
}
