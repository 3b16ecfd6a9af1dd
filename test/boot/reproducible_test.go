package boot_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReproducible builds the image a second time as another machine would: from a fresh clone of
// the checkout at another path, under umask 002 (which makes a checkout's files 0664 and folders
// 0775), with a genai-build command built there, an empty stage cache and an empty Go build cache
// (so u-root and every program are compiled again). The downloads are shared by digest: they are
// verified either way, and fetching 110 MB again proves nothing about reproducibility. The two
// images must have the same SHA-256.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds everything, including u-root (a minute or more)")
	}
	// A build without a boot: it runs beside a boot test (one TCG vCPU) rather than alone.
	t.Parallel()
	res := serverISO(t)
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	// The clone gets the working tree's tracked files as they are now, committed or not: `git stash
	// create` makes a commit of them without touching the checkout (nothing when it is clean).
	rev := strings.TrimSpace(gitOutput(t, abs, "stash", "create"))
	if rev == "" {
		rev = strings.TrimSpace(gitOutput(t, abs, "rev-parse", "HEAD"))
	}
	work := t.TempDir()
	clone := filepath.Join(work, "elsewhere", "genai-build")
	out := filepath.Join(work, "images")
	c := filepath.Join(work, "cache")
	if err := linkBlobs(testCache(t).Dir, c); err != nil {
		t.Fatal(err)
	}
	script := `umask 002
git clone --quiet --shared --no-checkout "$SRC" "$CLONE"
cd "$CLONE"
git checkout --quiet --detach "$REV"
exec go run ./cmd/genai-build --cache-dir "$CACHE" iso --edition server --out "$OUT" --quiet`
	cmd := exec.Command("sh", "-ec", script)
	cmd.Env = append(os.Environ(), "SRC="+abs, "CLONE="+clone, "REV="+rev, "CACHE="+c, "OUT="+out,
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", sourceDate.Unix()), "GOCACHE="+filepath.Join(work, "gocache"))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("build in the clone: %v\n%s", err, log.String())
	}
	// The umask did reach the clone (else the test proves nothing about it).
	fi, err := os.Stat(filepath.Join(clone, "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o775 {
		t.Fatalf("the clone's overlays/ is %o, want 0775 (umask 002)", fi.Mode().Perm())
	}
	sum, err := os.ReadFile(filepath.Join(out, filepath.Base(res.Image)+".sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(sum))[0]; got != res.SHA256 {
		t.Fatalf("two builds differ: %s here, %s from the clone at %s under umask 002", res.SHA256, got, clone)
	}
}

func gitOutput(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(b)
}

// linkBlobs gives the cache dst the downloads of the cache src (hard links, else copies).
func linkBlobs(src, dst string) error {
	from := filepath.Join(src, "blobs", "sha256")
	to := filepath.Join(dst, "blobs", "sha256")
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if os.Link(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())) == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
