package sbkeys_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foxboron/go-uefi/efi/signature"
	"github.com/foxboron/go-uefi/efivar"
	"github.com/genai-os/genai-build/internal/sbkeys"
)

var sourceDate = time.Date(2026, 11, 1, 12, 34, 56, 0, time.UTC)

func TestWriteLoad(t *testing.T) {
	s, err := sbkeys.Generate("Test Org")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	if err := sbkeys.Write(dir, s, sourceDate); err != nil {
		t.Fatal(err)
	}
	got, err := sbkeys.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		want, got sbkeys.Pair
		signer    *x509.Certificate
		v         efivar.Efivar
	}{
		{"PK", s.PK, got.PK, s.PK.Cert, efivar.PK},
		{"KEK", s.KEK, got.KEK, s.PK.Cert, efivar.KEK},
		{"db", s.DB, got.DB, s.KEK.Cert, efivar.Db},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !c.got.Cert.Equal(c.want.Cert) {
				t.Error("certificate changed through Write/Load")
			}
			if cn := c.got.Cert.Subject.CommonName; cn != "Test Org "+c.name {
				t.Errorf("CN %q", cn)
			}
			if !c.got.Cert.IsCA {
				t.Error("not a CA certificate")
			}
			for ext, mode := range map[string]os.FileMode{".key": 0o600, ".crt": 0o644, ".esl": 0o644, ".auth": 0o644, ".cer": 0o644} {
				fi, err := os.Stat(filepath.Join(dir, c.name+ext))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != mode {
					t.Errorf("%s%s mode %v, want %v", c.name, ext, fi.Mode().Perm(), mode)
				}
			}
			esl, err := os.ReadFile(filepath.Join(dir, c.name+".esl"))
			if err != nil {
				t.Fatal(err)
			}
			db, err := signature.ReadSignatureDatabase(bytes.NewReader(esl))
			if err != nil {
				t.Fatal(err)
			}
			owner := sbkeys.OwnerGUID(c.want.Cert)
			if len(db) != 1 || len(db[0].Signatures) != 1 || !bytes.Equal(db[0].Signatures[0].Data, c.want.Cert.Raw) ||
				!bytes.Equal(esl[28:44], owner[:]) {
				t.Errorf("%s.esl does not hold the certificate owned by %x", c.name, owner)
			}
			auth, err := os.ReadFile(filepath.Join(dir, c.name+".auth"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := signature.ReadEFIVariableAuthencation2(bytes.NewReader(auth))
			if err != nil {
				t.Fatal(err)
			}
			if a.Time != sbkeys.EFITime(sourceDate) || a.Time.Year != 2026 || a.Time.Second != 56 {
				t.Errorf("EFI_TIME %+v", a.Time)
			}
			got, err := sbkeys.VerifyAuth(c.v, auth, c.signer)
			if err != nil {
				t.Errorf("%s.auth: %v", c.name, err)
			} else if !bytes.Equal(got, esl) {
				t.Errorf("%s.auth does not end with the signature list", c.name)
			}
			// The wrong signer, or a changed byte, is refused.
			if _, err := sbkeys.VerifyAuth(c.v, auth, c.want.Cert); c.name != "PK" && err == nil {
				t.Errorf("%s.auth verifies with its own certificate", c.name)
			}
			bad := bytes.Clone(auth)
			bad[len(bad)-1] ^= 1
			if _, err := sbkeys.VerifyAuth(c.v, bad, c.signer); err == nil {
				t.Errorf("%s.auth with a changed byte verifies", c.name)
			}
		})
	}
	// Deterministic: writing the same set again gives the same .auth bytes.
	dir2 := filepath.Join(t.TempDir(), "again")
	if err := sbkeys.Write(dir2, s, sourceDate); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"PK.auth", "KEK.auth", "db.auth"} {
		a, _ := os.ReadFile(filepath.Join(dir, n))
		b, _ := os.ReadFile(filepath.Join(dir2, n))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes", n)
		}
	}
	db, err := sbkeys.LoadDB(dir)
	if err != nil || !db.Cert.Equal(s.DB.Cert) {
		t.Errorf("LoadDB: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	s, err := sbkeys.Generate("Org")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		break_ func(dir string) error
		want   string
	}{
		{"missing key", func(d string) error { return os.Remove(filepath.Join(d, "KEK.key")) }, "KEK.key"},
		{"missing cert", func(d string) error { return os.Remove(filepath.Join(d, "db.crt")) }, "db.crt"},
		{"not PEM", func(d string) error { return os.WriteFile(filepath.Join(d, "PK.crt"), []byte("junk"), 0o644) }, "PK.crt: no PEM"},
		{"swapped cert", func(d string) error {
			b, err := os.ReadFile(filepath.Join(d, "PK.crt"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(d, "db.crt"), b, 0o644)
		}, "db.crt does not hold the public key of"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := sbkeys.Write(dir, s, sourceDate); err != nil {
				t.Fatal(err)
			}
			if err := c.break_(dir); err != nil {
				t.Fatal(err)
			}
			_, err := sbkeys.Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load: %v, want an error naming %q", err, c.want)
			}
		})
	}
}

func TestGenerateEmptyOrg(t *testing.T) {
	if _, err := sbkeys.Generate(""); err == nil {
		t.Error("no error for an empty organisation")
	}
}
