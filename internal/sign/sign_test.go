package sign

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var at = time.Unix(1764000000, 0).UTC()

func TestRoundTrip(t *testing.T) {
	k, err := Generate("GenAI OS test", "release@example.org", at)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.ArmoredPrivate()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Read(priv)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Fingerprint() != k.Fingerprint() || len(k.Fingerprint()) != 40 {
		t.Fatalf("fingerprint %s after reading back, want %s", k2.Fingerprint(), k.Fingerprint())
	}
	data := []byte("abc  genai-os-server-0.1.0-amd64.iso\n")
	sig, err := k2.DetachSign(bytes.NewReader(data), at)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := k.DetachSign(bytes.NewReader(data), at)
	if !bytes.Equal(sig, again) {
		t.Error("two signatures of the same bytes at the same time differ")
	}
	pub, _ := k.ArmoredPublic()
	if fp, err := VerifyDetached(pub, bytes.NewReader(data), sig); err != nil || fp != k.Fingerprint() {
		t.Fatalf("verify: %s, %v", fp, err)
	}
	if _, err := VerifyDetached(pub, bytes.NewReader(append(data, 'x')), sig); err == nil {
		t.Error("a changed file verified")
	}
	other, _ := Generate("other", "other@example.org", at)
	opub, _ := other.ArmoredPublic()
	if _, err := VerifyDetached(opub, bytes.NewReader(data), sig); err == nil {
		t.Error("another key's keyring verified the signature")
	}
	// A key younger than the source date signs at its own creation time, and the signature checks.
	young, _ := Generate("young", "young@example.org", at.Add(time.Hour))
	ysig, err := young.DetachSign(bytes.NewReader(data), at)
	if err != nil {
		t.Fatalf("a key made after the source date cannot sign: %v", err)
	}
	ypub, _ := young.ArmoredPublic()
	if _, err := VerifyDetached(ypub, bytes.NewReader(data), ysig); err != nil {
		t.Errorf("verify the young key's signature: %v", err)
	}
	if _, err := young.Clearsign(data, at); err != nil {
		t.Errorf("clearsign with a young key: %v", err)
	}
	if _, err := Read(pub); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Errorf("a public key read as a signing key: %v", err)
	}
	if _, err := Load("", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), KeyEnv) {
		t.Errorf("no key: %v", err)
	}
	if k3, err := Load("", func(string) string { return string(priv) }); err != nil || k3.Fingerprint() != k.Fingerprint() {
		t.Errorf("key from the environment: %v", err)
	}
}

// TestGPG checks our signatures with GnuPG itself: gpgv over a detached signature and over a
// clearsigned InRelease, as users and apt do.
func TestGPG(t *testing.T) {
	gpgv, err := exec.LookPath("gpgv")
	if err != nil {
		t.Skip("gpgv is not installed (Debian: gpgv)")
	}
	k, err := Generate("GenAI OS test", "release@example.org", at)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ring := filepath.Join(dir, "release.gpg")
	pub, _ := k.Public()
	if err := os.WriteFile(ring, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	data := []byte("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty\n")
	sig, err := k.DetachSign(bytes.NewReader(data), at)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS.asc"), sig, 0o644)
	if out, err := exec.Command(gpgv, "--keyring", ring, filepath.Join(dir, "SHA256SUMS.asc"), filepath.Join(dir, "SHA256SUMS")).CombinedOutput(); err != nil {
		t.Fatalf("gpgv refused the detached signature: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), append(data, '\n'), 0o644)
	if _, err := exec.Command(gpgv, "--keyring", ring, filepath.Join(dir, "SHA256SUMS.asc"), filepath.Join(dir, "SHA256SUMS")).CombinedOutput(); err == nil {
		t.Error("gpgv accepted a changed SHA256SUMS")
	}
	rel := []byte("Origin: GenAI OS\nSuite: stable\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n")
	in, err := k.Clearsign(rel, at)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "InRelease"), in, 0o644)
	if out, err := exec.Command(gpgv, "--keyring", ring, filepath.Join(dir, "InRelease")).CombinedOutput(); err != nil {
		t.Fatalf("gpgv refused InRelease: %v\n%s", err, out)
	}
}
