package release

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/genai-os/genai-build/internal/sign"
)

// The ways Verify fails; each error wraps one of them and says what to do.
var (
	// ErrBadSignature: SHA256SUMS is not what the key signed (it was changed, or the signature
	// is damaged). Download both again; if it persists, do not use the image.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey: the signature was made by a key that is not the one given.
	ErrUnknownKey = errors.New("signed by an unknown key")
	// ErrNotListed: the image's name is not in SHA256SUMS.
	ErrNotListed = errors.New("image not listed")
	// ErrDigestMismatch: the image's SHA-256 is not the listed one: a damaged or changed download.
	ErrDigestMismatch = errors.New("digest mismatch")
)

// Verified is what a successful Verify checked.
type Verified struct {
	Image       string
	Name        string // its name in SHA256SUMS
	SHA256      string
	Fingerprint string // the key that signed SHA256SUMS
}

// Verify checks that the signature sig is the key's (keyring: armored or binary public keys) over
// the SHA256SUMS file sums, and that image's SHA-256 is the one it lists for image's name.
func Verify(image, sums, sig, keyring string) (*Verified, error) {
	sumsData, err := os.ReadFile(sums)
	if err != nil {
		return nil, fmt.Errorf("checksums: %w", err)
	}
	sigData, err := os.ReadFile(sig)
	if err != nil {
		return nil, fmt.Errorf("signature: %w (it comes with %s in the release)", err, SumsFile)
	}
	ring, err := os.ReadFile(keyring)
	if err != nil {
		return nil, fmt.Errorf("release key: %w", err)
	}
	fp, err := sign.VerifyDetached(ring, bytes.NewReader(sumsData), sigData)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return nil, fmt.Errorf("%s: %w: it was made by key %s, and %s holds %s; get the release key from the project, not from a mirror: %w",
			sig, ErrUnknownKey, issuer(sigData), keyring, keyIDs(ring), err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w: %s is not what key %s signed (changed or damaged); download both again and do not use the image until they verify: %w",
			sig, ErrBadSignature, sums, keyIDs(ring), err)
	}
	list, err := ParseSums(bytes.NewReader(sumsData))
	if err != nil {
		return nil, err
	}
	name := filepath.Base(image)
	s, ok := Lookup(list, name)
	if !ok {
		return nil, fmt.Errorf("%s: %w in %s (it lists %d files); check the file name, or that this %s belongs to the same release", name, ErrNotListed, sums, len(list), SumsFile)
	}
	got, err := FileSHA256(image)
	if err != nil {
		return nil, err
	}
	if got != s.SHA256 {
		return nil, fmt.Errorf("%s: %w: its SHA-256 is %s, %s says %s; the download is damaged or changed: download it again", image, ErrDigestMismatch, got, SumsFile, s.SHA256)
	}
	return &Verified{Image: image, Name: s.Name, SHA256: got, Fingerprint: fp}, nil
}

// issuer is the key the armored signature names (fingerprint, else key ID), or "an unknown key".
func issuer(armored []byte) string {
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		return "(unreadable)"
	}
	p, err := packet.Read(block.Body)
	if err != nil {
		return "(unreadable)"
	}
	sig, ok := p.(*packet.Signature)
	switch {
	case !ok:
		return "(not a signature)"
	case len(sig.IssuerFingerprint) > 0:
		return fmt.Sprintf("%X", sig.IssuerFingerprint)
	case sig.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	return "(unnamed)"
}

// keyIDs lists the fingerprints of the primary keys in a keyring file.
func keyIDs(ring []byte) string {
	var fps []string
	var rd *packet.Reader
	if block, err := armor.Decode(bytes.NewReader(ring)); err == nil {
		rd = packet.NewReader(block.Body)
	} else {
		rd = packet.NewReader(bytes.NewReader(ring))
	}
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		if pk, ok := p.(*packet.PublicKey); ok && !pk.IsSubkey {
			fps = append(fps, fmt.Sprintf("%X", pk.Fingerprint))
		}
	}
	if len(fps) == 0 {
		return "no key"
	}
	return strings.Join(fps, ", ")
}
