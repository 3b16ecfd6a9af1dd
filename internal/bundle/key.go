package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The files of an update key folder (genai-build update-key init DIR).
const (
	PrivateKeyFile = "update.key" // PKCS#8, PEM "PRIVATE KEY", mode 0600
	PublicKeyFile  = "update.pub" // PKIX, PEM "PUBLIC KEY"
)

// TrustedKeysDir is where a device's root holds the public keys it takes bundles from, one
// <keyid>.pub each.
const TrustedKeysDir = "etc/genai/update-keys"

// ErrKeyExists: the folder already holds an update key. Replacing it orphans every device that
// trusts the old one: keep it, or pass --force on purpose.
var ErrKeyExists = errors.New("an update key is already there")

// KeyID names a public key: the first 8 bytes of the SHA-256 of its 32 bytes, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey makes a key pair in dir (created 0700): update.key (0600) and update.pub. It
// refuses to replace an existing update.key unless force.
func GenerateKey(dir string, force bool) (ed25519.PublicKey, error) {
	keyPath := filepath.Join(dir, PrivateKeyFile)
	if _, err := os.Stat(keyPath); err == nil && !force {
		return nil, fmt.Errorf("%s: %w", keyPath, ErrKeyExists)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	pubPEM, err := MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, PublicKeyFile), pubPEM, 0o644); err != nil {
		return nil, err
	}
	return pub, nil
}

// writeFile writes p under a temporary name and renames it, with mode perm whatever the umask.
func writeFile(p string, data []byte, perm os.FileMode) error {
	tmp := p + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

// MarshalPublicKey is pub as a PKIX PEM block (update.pub, and a device's <keyid>.pub).
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads a PKIX PEM Ed25519 public key.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM public key (-----BEGIN PUBLIC KEY-----)")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
	}
	return pub, nil
}

// LoadPrivateKey reads dir/update.key. A key readable by others is refused: chmod 600 it.
func LoadPrivateKey(dir string) (ed25519.PrivateKey, error) {
	p := filepath.Join(dir, PrivateKeyFile)
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no update key: make one with `genai-build update-key init %s`", p, dir)
		}
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %v lets others read the private key: chmod 600 it", p, fi.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----)", p)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, want an Ed25519 key", p, k)
	}
	if pb, err := os.ReadFile(filepath.Join(dir, PublicKeyFile)); err == nil {
		pub, err := ParsePublicKey(pb)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, PublicKeyFile), err)
		}
		if !pub.Equal(priv.Public()) {
			return nil, fmt.Errorf("%s is not the public key of %s: the folder mixes two key pairs", PublicKeyFile, p)
		}
	}
	return priv, nil
}

// Keyring is the public keys a device trusts, by key id.
type Keyring map[string]ed25519.PublicKey

// Add trusts pub.
func (k Keyring) Add(pub ed25519.PublicKey) { k[KeyID(pub)] = pub }

// IDs are the key ids, sorted.
func (k Keyring) IDs() []string {
	var ids []string
	for id := range k {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// LoadKeyring reads every *.pub in dir (a device's /etc/genai/update-keys). A folder without keys
// is an error: such a device can take no update.
func LoadKeyring(dir string) (Keyring, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pub"))
	if err != nil {
		return nil, err
	}
	k := Keyring{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		pub, err := ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		k.Add(pub)
	}
	if len(k) == 0 {
		return nil, fmt.Errorf("%s holds no update key (*.pub): this system was built without --update-key and can take no bundle", dir)
	}
	return k, nil
}

// TrustedKeyPath is where an image holds pub: etc/genai/update-keys/<keyid>.pub.
func TrustedKeyPath(pub ed25519.PublicKey) string {
	return TrustedKeysDir + "/" + KeyID(pub) + ".pub"
}

// keyIDs lists signatures' key ids for a message.
func keyIDs(sigs []Signature) string {
	var ids []string
	for _, s := range sigs {
		ids = append(ids, s.KeyID)
	}
	return strings.Join(ids, ", ")
}
