package hostkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
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

// TestFormats checks the formats against golang.org/x/crypto/ssh, byte for byte where it writes
// them too, and that it reads back the private key as the same key.
func TestFormats(t *testing.T) {
	for i := 0; i < 16; i++ {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub := priv.Public().(ed25519.PublicKey)
		sp, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := AuthorizedKey(pub, ""), ssh.MarshalAuthorizedKey(sp); !bytes.Equal(got, want) {
			t.Errorf("AuthorizedKey = %q, want %q", got, want)
		}
		if got, want := Fingerprint(pub), ssh.FingerprintSHA256(sp); got != want {
			t.Errorf("Fingerprint = %q, want %q", got, want)
		}
		for _, comment := range []string{"", "root@genai", "a comment of some length to pad"} {
			raw, err := ssh.ParseRawPrivateKey(PrivateKeyPEM(priv, comment, uint32(i)*0x01010101))
			if err != nil {
				t.Fatalf("x/crypto/ssh cannot read the key (comment %q): %v", comment, err)
			}
			if k, ok := raw.(*ed25519.PrivateKey); !ok || !bytes.Equal(*k, priv) {
				t.Errorf("read back %T %v, want the key written", raw, raw)
			}
		}
	}
}

// TestShortRandom: without enough randomness there is no key, and no file.
func TestShortRandom(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	if err := Run([]string{"-f", p}, io.Discard, bytes.NewReader(make([]byte, 20))); err == nil {
		t.Fatal("a short random source made a key")
	}
	if _, err := os.Stat(p + ".pub"); err == nil {
		t.Error("a .pub was written")
	}
}
