package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/release"
)

func TestReleaseKey(t *testing.T) {
	if code, _, errs := runCLI(t, nil, "--root", "../..", "release-key", "--out", "../../keys"); code == 0 || !strings.Contains(errs, "inside the checkout") {
		t.Errorf("a key folder inside the checkout: exit %d: %s", code, errs)
	}
	if _, err := os.Stat("../../keys"); err == nil {
		t.Fatal("the refused folder was made")
	}
	dir := filepath.Join(t.TempDir(), "key")
	code, out, errs := runCLI(t, nil, "--root", "../..", "release-key", "--out", dir, "--email", "release@example.org")
	if code != 0 || !strings.Contains(out, "fingerprint") {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for n, mode := range map[string]os.FileMode{release.PrivateKeyFile: 0o600, release.PublicKeyFile: 0o644, release.KeyringFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %v", n, err, fi.Mode().Perm(), mode)
		}
	}
	if code, _, errs := runCLI(t, nil, "--root", "../..", "release-key", "--out", dir); code == 0 || !strings.Contains(errs, "never overwritten") {
		t.Errorf("a second key into the same folder: exit %d: %s", code, errs)
	}
}

// TestReleaseRefuses checks what release refuses before it builds anything.
func TestReleaseRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "key")
	if code, _, errs := runCLI(t, nil, "--root", "../..", "release-key", "--out", dir); code != 0 {
		t.Fatal(errs)
	}
	key := filepath.Join(dir, release.PrivateKeyFile)
	out := t.TempDir()
	os.Mkdir(filepath.Join(out, "0.1.0"), 0o755)
	fixture := "../release/testdata/boot-passed.json"
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"release", "--no-boot"}, "GENAI_RELEASE_KEY"},
		{"a public key", []string{"release", "--no-boot", "--key", filepath.Join(dir, release.PublicKeyFile)}, "public key"},
		{"no-boot and tested", []string{"release", "--no-boot", "--tested", fixture, "--key", key}, "exclude each other"},
		{"abstract edition", []string{"release", "--editions", "base", "--key", key}, "abstract"},
		{"existing release", []string{"release", "--editions", "server", "--key", key, "--out", out}, "pass --force"},
		{"failed boot tests", []string{"release", "--editions", "developer", "--key", key, "--out", out, "--version", "9", "--tested", fixture},
			"TestBootMatrix/developer-iso-bios-cd failed"},
		{"boot tests that did not run", []string{"release", "--editions", "server,developer", "--key", key, "--out", out, "--version", "9", "--tested", fixture},
			"TestBootMatrix/developer-iso-secureboot-usb did not run"},
		{"not go test -json", []string{"release", "--editions", "server", "--key", key, "--out", out, "--version", "9", "--tested", key}, "no go test -json events"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, nil, append([]string{"--root", "../.."}, tt.args...)...)
			if code == 0 || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want an error with %q: %s", code, tt.want, errs)
			}
		})
	}
}
