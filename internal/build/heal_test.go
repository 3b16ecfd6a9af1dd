package build

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
)

// These tests build the real server edition: they reuse the user's cache (warming it first, as
// `genai-build iso` would) through a linked copy of their own, which they damage, share between
// processes or leave half-written. Files are never changed in place in the copy, only replaced, so
// the linked originals stay intact.

const healDate = 1764000000 // the boot tests' SOURCE_DATE_EPOCH, so their cache entries serve here

var warm struct {
	once sync.Once
	res  *Result
	err  error
}

// warmServer builds the server edition into the user's cache and returns the result.
func warmServer(t *testing.T) *Result {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the server edition from the cache (a few minutes when the cache is cold)")
	}
	warm.once.Do(func() {
		var dir string
		if dir, warm.err = cache.DefaultDir(os.Getenv); warm.err != nil {
			return
		}
		warm.res, warm.err = serverBuild(t, &cache.Cache{Dir: dir}, os.TempDir(), nil)
	})
	if warm.err != nil {
		t.Fatal(warm.err)
	}
	return warm.res
}

func serverBuild(t *testing.T, c *cache.Cache, out string, log io.Writer) (*Result, error) {
	m, err := debian.ResolveMirror("", os.Getenv, "/")
	if err != nil {
		t.Fatalf("no Debian mirror (these tests refetch what they damage): %v", err)
	}
	// The kernel comes from trixie-security: with an empty cache it is fetched from there.
	sec, err := debian.ResolveSecurityMirror("", os.Getenv, "/")
	if err != nil {
		t.Fatalf("no Debian security mirror (these tests refetch what they damage): %v", err)
	}
	if log == nil {
		log = io.Discard
	}
	c.Log = slog.New(slog.NewTextHandler(log, nil))
	return Run(context.Background(), Options{Root: filepath.Join("..", ".."), Edition: "server", OutDir: out, Cache: c,
		Mirror: m, Security: sec, SourceDate: time.Unix(healDate, 0), Log: c.Log})
}

// linkedCache is a copy of the user's cache made of hard links (copies across file systems).
func linkedCache(t *testing.T) *cache.Cache {
	t.Helper()
	src, err := cache.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(d.Name(), ".tmp-") || strings.HasPrefix(d.Name(), ".trash-") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, to)
		}
		if os.Link(p, to) == nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &cache.Cache{Dir: dst}
}

// replace writes a damaged version of p beside it and renames it over p (never in place: p may be
// a link to the user's cache).
func replace(t *testing.T, p string, damage func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".damaged", damage(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".damaged", p); err != nil {
		t.Fatal(err)
	}
}

func flipByte(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }

// stageDirs lists the folders of one stage kind in c.
func stageDirs(t *testing.T, c *cache.Cache, kind string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(c.Dir, "stages", kind, "[0-9a-f]*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no %s stage in %s", kind, c.Dir)
	}
	return dirs
}

// A truncated blob, a blob with one byte changed and an initramfs with one byte changed are each
// reported, dropped, and fetched or built again; the image comes out the same.
func TestBuildHealsCorruptCache(t *testing.T) {
	want := warmServer(t)
	c := linkedCache(t)
	lock, err := debian.ReadLock(filepath.Join("..", "..", LockFile))
	if err != nil {
		t.Fatal(err)
	}
	isolinux, _ := lock.Package("isolinux")
	syslinux, _ := lock.Package("syslinux-common")
	// Truncated: seen by its size when the build fetches its inputs.
	replace(t, c.BlobPath(isolinux.SHA256), func(b []byte) []byte { return b[:len(b)/2] })
	// Same size, other bytes: seen by its digest when it is read, which the boot-loader files'
	// stage does when it is built (so it is dropped here).
	replace(t, c.BlobPath(syslinux.SHA256), flipByte)
	for _, d := range stageDirs(t, c, "debian-files") {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	initrd := stageDirs(t, c, "initrd")
	for _, d := range initrd {
		replace(t, filepath.Join(d, "initrd.img"), flipByte)
	}
	var log bytes.Buffer
	res, err := serverBuild(t, c, t.TempDir(), &log)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if res.SHA256 != want.SHA256 {
		t.Errorf("image %s, want %s", res.SHA256, want.SHA256)
	}
	for _, entry := range []string{"blob sha256:" + isolinux.SHA256, "blob sha256:" + syslinux.SHA256, "stage initrd/"} {
		if !strings.Contains(log.String(), entry) {
			t.Errorf("no warning about %s in:\n%s", entry, log.String())
		}
	}
	// Of the initramfs stages (the user's cache may hold several), only the one in use is checked.
	if n := strings.Count(log.String(), "level=WARN"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, log.String())
	}
	if _, err := c.VerifyBlob(syslinux.SHA256, syslinux.Size); err != nil {
		t.Errorf("the blob was not fetched again: %v", err)
	}
}

// genaiBuild builds the command into a temporary folder once per test binary.
var genaiBin struct {
	once sync.Once
	path string
	err  error
}

func genaiBuild(t *testing.T) string {
	t.Helper()
	genaiBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "genai-build-bin-*")
		if err != nil {
			genaiBin.err = err
			return
		}
		genaiBin.path = filepath.Join(dir, "genai-build")
		cmd := exec.Command("go", "build", "-o", genaiBin.path, "./cmd/genai-build")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			genaiBin.err = errors.New(string(out))
		}
	})
	if genaiBin.err != nil {
		t.Fatalf("go build: %v", genaiBin.err)
	}
	return genaiBin.path
}

func isoCommand(t *testing.T, c *cache.Cache, out string) *exec.Cmd {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(genaiBuild(t), "--root", root, "--cache-dir", c.Dir, "iso", "--edition", "server", "--out", out, "--quiet")
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1764000000")
	return cmd
}

// dropLate removes stages of the kinds a build writes last, so that it has something to write.
func dropLate(t *testing.T, c *cache.Cache, kinds ...string) {
	t.Helper()
	for _, kind := range kinds {
		for _, d := range stageDirs(t, c, kind) {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkImages checks that out holds the image, its checksum and manifest, and nothing half-written.
func checkImages(t *testing.T, out, sha string) {
	t.Helper()
	name := "genai-os-server-0.1.0-amd64.iso"
	sum, err := os.ReadFile(filepath.Join(out, name+".sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(sum); got != sha+"  "+name+"\n" {
		t.Errorf(".sha256 = %q, want %s", got, sha)
	}
	got, err := fileSHA256(filepath.Join(out, name))
	if err != nil || got != sha {
		t.Errorf("image sha256 %s (%v), want %s", got, err, sha)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.Contains(e.Name(), "partial") || strings.Contains(e.Name(), ".tmp-") || strings.Contains(e.Name(), ".work-") {
			t.Errorf("left in %s: %s", out, e.Name())
		}
	}
}

// Two `genai-build iso` runs at once, with one edition, cache and output folder, both succeed.
func TestTwoBuildsAtOnce(t *testing.T) {
	want := warmServer(t)
	c := linkedCache(t)
	dropLate(t, c, "initrd", "esp")
	out := t.TempDir()
	var outs [2]bytes.Buffer
	var cmds [2]*exec.Cmd
	for i := range cmds {
		cmds[i] = isoCommand(t, c, out)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("build %d: %v\n%s", i, err, outs[i].String())
		}
	}
	checkImages(t, out, want.SHA256)
	// Every stage in the cache is whole.
	for _, kind := range []string{"initrd", "esp"} {
		for _, d := range stageDirs(t, c, kind) {
			if _, err := c.Stage(kind, filepath.Base(d)); err != nil {
				t.Error(err)
			}
		}
	}
}

// A build killed (SIGKILL) while it writes the cache leaves no half entry: the next build succeeds
// and gives the same image.
func TestKilledBuildThenBuild(t *testing.T) {
	want := warmServer(t)
	c := linkedCache(t)
	// Without the init's initramfs segment (a 4 MB binary compressed at zstd's best level), the
	// build spends a second or more writing it.
	dropLate(t, c, "initrd", "esp")
	for _, d := range stageDirs(t, c, "initrd-segment") {
		if b, err := os.ReadFile(filepath.Join(d, "files.json")); err == nil && bytes.Contains(b, []byte(`"initramfs:consciousness-init"`)) {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := t.TempDir()
	cmd := isoCommand(t, c, out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once it is writing an initramfs segment (a temporary stage folder exists).
	segs := filepath.Join(c.Dir, "stages", "initrd-segment")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		tmps, _ := filepath.Glob(filepath.Join(segs, ".tmp-*"))
		if len(tmps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the build never wrote a segment:\n%s", log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the build finished before it was killed:\n%s", log.String())
	}
	// What it left is old by the time of the next build (the cache leaves fresh temporary names
	// alone, in case their writer has just made them).
	tmps, _ := filepath.Glob(filepath.Join(segs, ".tmp-*"))
	old := time.Now().Add(-time.Hour)
	for _, p := range tmps {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	cmd = isoCommand(t, c, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build after the kill: %v\n%s", err, b)
	} else if strings.Contains(string(b), "level=WARN") {
		t.Errorf("the killed build left a damaged entry:\n%s", b)
	}
	checkImages(t, out, want.SHA256)
	if left, _ := filepath.Glob(filepath.Join(segs, ".tmp-*")); len(left) > 0 {
		t.Errorf("the killed build's temporary folders are still there: %v", left)
	}
}
