package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/debtest"
)

var lockNow = time.Now().UTC().Truncate(time.Second)

// lockRepo is a checkout with a kernel recipe and a package set, and the archive's key.
func lockRepo(t *testing.T, a *debtest.Archive) string {
	root := t.TempDir()
	for _, d := range []string{"editions", "recipes/keys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		"recipes/kernel.yaml":          []byte("name: kernel\nkind: kernel\ndescription: the kernel\npackage: linux-image-amd64\n"),
		"recipes/server-packages.yaml": []byte("name: server-packages\nkind: debian-packages\ndescription: ssh\npackages: [openssh-server]\n"),
		build.KeyringFile:              a.Keyring(t),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func publish(t *testing.T, a *debtest.Archive, securityDate time.Time, ssh string) {
	a.Publish(t,
		debtest.Suite{Name: "trixie", Date: lockNow.Add(-10 * 24 * time.Hour), Packages: []debtest.Pkg{
			{Name: "linux-image-amd64", Version: "6.12.57-1", Depends: "linux-image-6.12.57+deb13-amd64 (= 6.12.57-1)"},
			{Name: "linux-image-6.12.57+deb13-amd64", Version: "6.12.57-1"},
			{Name: "openssh-server", Version: "1:10.0p1-7", Depends: "libc6 (>= 2.38)"},
			{Name: "libc6", Version: "2.41-12"},
		}},
		debtest.Suite{Name: "trixie-updates", Date: lockNow.Add(-24 * time.Hour), ValidUntil: lockNow.Add(6 * 24 * time.Hour)},
		debtest.Suite{Name: "trixie-security", Date: securityDate, ValidUntil: lockNow.Add(6 * 24 * time.Hour), Packages: []debtest.Pkg{
			{Name: "openssh-server", Version: ssh, Depends: "libc6 (>= 2.38)"},
		}},
	)
}

// `genai-build lock` prints what changed, one package a line; `--check` writes nothing and exits
// ExitLockOutdated when the archive has newer versions or a recipe changed; a rolled-back suite
// is refused with exit 1 and the lock left alone.
func TestLockCheckAndChanges(t *testing.T) {
	a := debtest.NewArchive(t, lockNow)
	root := lockRepo(t, a)
	lockPath := filepath.Join(root, build.LockFile)
	secDate := lockNow.Add(-48 * time.Hour)
	publish(t, a, secDate, "1:10.0p1-7")
	args := func(extra ...string) []string {
		return append([]string{"--root", root, "--cache-dir", t.TempDir(), "lock", "--mirror", a.MainURL(), "--security-mirror", a.SecurityURL()}, extra...)
	}
	code, out, errs := runCLI(t, nil, args()...)
	if code != 0 {
		t.Fatalf("first lock: exit %d: %s", code, errs)
	}
	for _, want := range []string{"openssh-server (new) -> 1:10.0p1-7 (trixie)\n", "linux-image-6.12.57+deb13-amd64 (new) -> 6.12.57-1 (trixie)\n", "libc6 (new) -> 2.41-12 (trixie)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("first lock output lacks %q:\n%s", want, out)
		}
	}
	first, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}

	// Nothing new: --check is happy.
	if code, out, errs := runCLI(t, nil, args("--check")...); code != 0 || !strings.Contains(out, "is current") {
		t.Errorf("check, nothing new: exit %d\n%s%s", code, out, errs)
	}

	// A security update: --check says so with its own exit code and leaves the lock alone.
	secDate = lockNow.Add(-time.Hour)
	publish(t, a, secDate, "1:10.0p1-7+deb13u1")
	update := "openssh-server 1:10.0p1-7 -> 1:10.0p1-7+deb13u1 (trixie-security)\n"
	code, out, errs = runCLI(t, nil, args("--check")...)
	if code != ExitLockOutdated || out != update || !strings.Contains(errs, "out of date") {
		t.Errorf("check with an update: exit %d, want %d\nstdout %q\nstderr %s", code, ExitLockOutdated, out, errs)
	}
	if now, _ := os.ReadFile(lockPath); string(now) != string(first) {
		t.Error("lock --check changed the lock")
	}
	// lock takes it, printing the same line.
	code, out, errs = runCLI(t, nil, args()...)
	if code != 0 || !strings.HasPrefix(out, update) {
		t.Errorf("lock with an update: exit %d\n%s%s", code, out, errs)
	}
	second, _ := os.ReadFile(lockPath)
	if !strings.Contains(string(second), `"suite": "trixie-security"`) {
		t.Errorf("lock does not record the security suite:\n%s", second)
	}

	// The mirror replays the older security release: refused, exit 1, lock unchanged.
	publish(t, a, lockNow.Add(-48*time.Hour), "1:10.0p1-7")
	for _, extra := range [][]string{nil, {"--check"}} {
		code, _, errs = runCLI(t, nil, args(extra...)...)
		if code != 1 || !strings.Contains(errs, "trixie-security") || !strings.Contains(errs, "rollback") {
			t.Errorf("rollback %v: exit %d: %s", extra, code, errs)
		}
	}
	if now, _ := os.ReadFile(lockPath); string(now) != string(second) {
		t.Error("a refused lock changed the lock")
	}

	// A recipe change alone makes the lock out of date too.
	publish(t, a, secDate, "1:10.0p1-7+deb13u1")
	recipe := filepath.Join(root, "recipes/server-packages.yaml")
	if err := os.WriteFile(recipe, []byte("name: server-packages\nkind: debian-packages\ndescription: ssh\npackages: [openssh-server]\nexclude: [libc6]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, nil, args("--check")...)
	if code != ExitLockOutdated || !strings.Contains(out, "recipe server-packages changed") || !strings.Contains(out, "libc6 2.41-12 -> (removed)") {
		t.Errorf("check after a recipe change: exit %d\n%s", code, out)
	}
}
