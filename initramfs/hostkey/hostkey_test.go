package hostkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestHostKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ssh_host_ed25519_key")
	var out bytes.Buffer
	if err := Run([]string{"-f", p}, &out, rand.Reader); err != nil {
		t.Fatal(err)
	}
	priv, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatalf("OpenSSH cannot read the key: %v", err)
	}
	pub, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil || !bytes.Equal(parsed.Marshal(), signer.PublicKey().Marshal()) {
		t.Fatalf(".pub does not match the private key: %v", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	// A second run keeps the key.
	if err := Run([]string{"-f", p}, &out, rand.Reader); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(p)
	if !bytes.Equal(again, priv) {
		t.Error("the second run replaced the key")
	}
}

// TestNewKey checks newKey against crypto/ed25519 for many seeds, and that its keys sign and verify.
func TestNewKey(t *testing.T) {
	for i := 0; i < 64; i++ {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			t.Fatal(err)
		}
		got, err := newKey(bytes.NewReader(seed))
		if err != nil {
			t.Fatal(err)
		}
		if want := ed25519.NewKeyFromSeed(seed); !bytes.Equal(got, want) {
			t.Fatalf("seed %x: newKey = %x, crypto/ed25519 = %x", seed, got, want)
		}
		msg := []byte("genai-os")
		if !ed25519.Verify(got.Public().(ed25519.PublicKey), msg, ed25519.Sign(got, msg)) {
			t.Fatal("signature does not verify")
		}
	}
	if _, err := newKey(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Error("a short random source gave a key")
	}
}
