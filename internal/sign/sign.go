// Package sign makes and checks the OpenPGP signatures of GenAI OS releases: a detached, armored
// signature over SHA256SUMS (what `gpg --verify SHA256SUMS.asc SHA256SUMS` checks) and the
// clearsigned InRelease of an APT repository (what apt's gpgv checks). Keys are Ed25519 (RFC 9580
// and GnuPG 2.2+ read them as v4 EdDSA keys); Ed25519 signatures are deterministic, and the
// signature's creation time is the caller's (the release's SOURCE_DATE_EPOCH), so signing the same
// bytes twice gives the same signature.
package sign

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// KeyEnv is the environment variable that may hold the armored release key (CI's secret).
const KeyEnv = "GENAI_RELEASE_KEY"

// Key is a release signing key with its private part.
type Key struct{ e *openpgp.Entity }

// config is the packet configuration of every key and signature: SHA-256, Ed25519, time now, and
// no random salt notation (go-crypto adds one by default, against fault attacks on the signing
// machine; a release signature is made once, and must be reproducible).
func config(now time.Time) *packet.Config {
	deterministic := false
	return &packet.Config{DefaultHash: crypto.SHA256, Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return now },
		NonDeterministicSignaturesViaNotation: &deterministic}
}

// Generate makes a new Ed25519 signing key for the user ID "name <email>", created at created.
func Generate(name, email string, created time.Time) (*Key, error) {
	e, err := openpgp.NewEntity(name, "", email, config(created))
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &Key{e}, nil
}

// Read reads an armored private key (what ArmoredPrivate writes, or `gpg --export-secret-keys
// --armor` of an unprotected key). A key without its private part, or a passphrase-protected one,
// is refused with what to do.
func Read(armored []byte) (*Key, error) {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("read release key: %w", err)
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("read release key: %d keys, want exactly one", len(list))
	}
	e := list[0]
	if e.PrivateKey == nil {
		return nil, errors.New("read release key: it is a public key; the private key is needed to sign")
	}
	if e.PrivateKey.Encrypted {
		return nil, errors.New("read release key: it is protected by a passphrase; export it without one for CI (gpg --export-secret-keys --armor after gpg --passwd to an empty passphrase), and keep the file secret")
	}
	return &Key{e}, nil
}

// Load reads the key from the file path, or, when path is empty, from the environment variable
// KeyEnv (through getenv).
func Load(path string, getenv func(string) string) (*Key, error) {
	if path == "" {
		v := getenv(KeyEnv)
		if v == "" {
			return nil, fmt.Errorf("no release key: give --key FILE or set %s to the armored private key", KeyEnv)
		}
		return Read([]byte(v))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("release key: %w", err)
	}
	return Read(b)
}

// Fingerprint is the key's fingerprint in upper-case hex, as gpg prints it.
func (k *Key) Fingerprint() string {
	return strings.ToUpper(fmt.Sprintf("%x", k.e.PrimaryKey.Fingerprint))
}

// UserID is the key's user ID ("name <email>").
func (k *Key) UserID() string {
	for id := range k.e.Identities {
		return id
	}
	return ""
}

// ArmoredPrivate is the key with its private part, armored: keep it secret, off the checkout.
func (k *Key) ArmoredPrivate() ([]byte, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := k.e.SerializePrivate(w, nil); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ArmoredPublic is the public key, armored: what users import (`gpg --import`) or apt trusts.
func (k *Key) ArmoredPublic() ([]byte, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := k.e.Serialize(w); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Public is the public key, binary (a keyring file for apt's signed-by= or gpgv --keyring).
func (k *Key) Public() ([]byte, error) {
	var b bytes.Buffer
	if err := k.e.Serialize(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SignTime is the time a signature asked for at carries: at, or the key's creation time when the
// key is younger (OpenPGP readers, go-crypto's among them, refuse a signature older than its key:
// a key made today signs a release whose source date is last week's commit).
func (k *Key) SignTime(at time.Time) time.Time {
	if created := k.e.PrimaryKey.CreationTime; created.After(at) {
		return created.UTC()
	}
	return at
}

// DetachSign returns an armored detached signature of data, made at SignTime(at).
func (k *Key) DetachSign(data io.Reader, at time.Time) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, k.e, data, config(k.SignTime(at))); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return b.Bytes(), nil
}

// Clearsign returns text clearsigned (an APT InRelease), made at SignTime(at).
func (k *Key) Clearsign(text []byte, at time.Time) ([]byte, error) {
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, k.e.PrivateKey, config(k.SignTime(at)))
	if err != nil {
		return nil, fmt.Errorf("clearsign: %w", err)
	}
	if _, err := w.Write(text); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// VerifyDetached checks an armored detached signature of data against the armored (or binary)
// public keys in keyring, and returns the signer's fingerprint.
func VerifyDetached(keyring []byte, data io.Reader, signature []byte) (string, error) {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(keyring))
	if err != nil {
		if ring, err = openpgp.ReadKeyRing(bytes.NewReader(keyring)); err != nil {
			return "", fmt.Errorf("keyring: %w", err)
		}
	}
	signer, err := openpgp.CheckArmoredDetachedSignature(ring, data, bytes.NewReader(signature), nil)
	if err != nil {
		return "", fmt.Errorf("signature: %w", err)
	}
	return strings.ToUpper(fmt.Sprintf("%x", signer.PrimaryKey.Fingerprint)), nil
}
