package cli

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/bundle"
)

func TestUpdateKeyInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "uk")
	code, out, errs := runCLI(t, nil, "update-key", "init", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	priv, err := bundle.LoadPrivateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := bundle.KeyID(priv.Public().(ed25519.PublicKey))
	if !strings.Contains(out, "update key "+id) || !strings.Contains(out, "/etc/genai/update-keys/"+id+".pub") {
		t.Errorf("output:\n%s", out)
	}
	for p, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "update.key"): 0o600, filepath.Join(dir, "update.pub"): 0o644} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, want mode %v", p, err, mode)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "update.key"))
	code, _, errs = runCLI(t, nil, "update-key", "init", dir)
	if after, _ := os.ReadFile(filepath.Join(dir, "update.key")); code == 0 || !strings.Contains(errs, "--force") || string(after) != string(before) {
		t.Errorf("second init: exit %d, %s", code, errs)
	}
	if code, _, errs = runCLI(t, nil, "update-key", "init", dir, "--force"); code != 0 {
		t.Errorf("--force: exit %d, %s", code, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "update.key")); string(after) == string(before) {
		t.Error("--force kept the old key")
	}
	abs, _ := filepath.Abs("testdata-uk")
	if code, _, errs = runCLI(t, nil, "update-key", "init", abs); code == 0 || !strings.Contains(errs, "git work tree") {
		t.Errorf("in the checkout: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(abs); err == nil {
		t.Error("a key folder was made in the checkout")
	}
}

// TestBundleNeedsAnABEdition: genai-build bundle stops before fetching anything when the edition
// has no disk-image output.
func TestBundleNeedsAnABEdition(t *testing.T) {
	code, _, errs := runCLI(t, map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "GENAI_BUILD_CACHE": t.TempDir()},
		"--root", "../..", "bundle", "--edition", "server", "--offline")
	if code == 0 || !strings.Contains(errs, "edition server has no disk-image output") {
		t.Errorf("exit %d: %s", code, errs)
	}
}
