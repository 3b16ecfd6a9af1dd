// Package bundle is the signed update bundle of an A/B edition: one slot's image, streamed to a
// device and verified chunk by chunk before each chunk is written.
//
// A bundle is a tar stream (POSIX ustar) of four regular files, in this order:
//
//	genai-bundle    the line "genai-bundle 1\n" (the format and its version)
//	manifest.json   what the image is (Manifest), the exact bytes that are signed
//	manifest.sig    [{"keyid":"<16 hex>","sig":"<base64 Ed25519 over manifest.json>"}]
//	slot.img        the slot's image, Manifest.Image.Size bytes
//
// The manifest comes before the image so that a device checks the signature, the edition, the
// architecture and the version before it reads the image, and holds only one chunk (1 MiB) of the
// image in memory at a time: each chunk's SHA-256 is compared with the signed manifest's before it
// is written to the slot, and nothing past a bad chunk is written.
package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// The tar entries, in the order a bundle holds them.
const (
	NameMagic    = "genai-bundle"
	NameManifest = "manifest.json"
	NameSig      = "manifest.sig"
	NameImage    = "slot.img"
)

// Magic is the content of the first entry: the format and its version.
const Magic = "genai-bundle 1\n"

// FormatVersion is Manifest.Format of this package's bundles.
const FormatVersion = 1

// ChunkSize is the size of every chunk but the last: one verified write, and the memory a device
// needs for the image.
const ChunkSize = 1 << 20

// Caps on what a device reads into memory before the signature is checked: a manifest lists 65
// bytes per MiB of image, so 1 MiB of manifest covers images of about 16 GB.
const (
	MaxManifest   = 1 << 20
	MaxSignatures = 64 << 10
)

// Manifest is manifest.json.
type Manifest struct {
	Format int `json:"format"`
	// Compatible is "genai-os/<edition>/<arch>": a device takes only its own edition's bundles.
	Compatible string `json:"compatible"`
	Edition    string `json:"edition"`
	Arch       string `json:"arch"`
	Version    string `json:"version"`
	BuildID    string `json:"build_id"`
	// Created is the build's source date (SOURCE_DATE_EPOCH), not the time it was written.
	Created time.Time `json:"created"`
	Image   Image     `json:"image"`
}

// Image describes slot.img.
type Image struct {
	Size      int64    `json:"size"`
	SHA256    string   `json:"sha256"`
	ChunkSize int64    `json:"chunk_size"`
	Chunks    []string `json:"chunks"`
}

// Signature is one entry of manifest.sig.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Compatible is the compatible string of an edition's bundles.
func Compatible(edition, arch string) string { return "genai-os/" + edition + "/" + arch }

// ErrFormat is a bundle that is not well formed (not a bundle, truncated, entries out of order, a
// manifest that does not hold together): get the bundle again from where it was built.
var ErrFormat = errors.New("not a valid genai-bundle")

// ParseManifest decodes manifest.json strictly (unknown fields are refused: the format number
// says what a manifest may hold) and checks that it holds together.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifest {
		return nil, fmt.Errorf("%w: manifest.json is %d bytes, more than %d", ErrFormat, len(b), MaxManifest)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %v", ErrFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest.json: data after the object", ErrFormat)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %v", ErrFormat, err)
	}
	return &m, nil
}

// check says what in m does not hold together.
func (m *Manifest) check() error {
	switch {
	case m.Format != FormatVersion:
		return fmt.Errorf("format %d, this tool reads format %d", m.Format, FormatVersion)
	case m.Edition == "" || m.Arch == "" || strings.ContainsAny(m.Edition+m.Arch, "/ \n"):
		return fmt.Errorf("edition %q, arch %q", m.Edition, m.Arch)
	case m.Compatible != Compatible(m.Edition, m.Arch):
		return fmt.Errorf("compatible %q does not match edition %q and arch %q", m.Compatible, m.Edition, m.Arch)
	case !semver.IsValid(canonical(m.Version)):
		return fmt.Errorf("version %q is not a semantic version (1.2.3)", m.Version)
	case m.Image.ChunkSize != ChunkSize:
		return fmt.Errorf("chunk_size %d, want %d", m.Image.ChunkSize, ChunkSize)
	case m.Image.Size <= 0:
		return fmt.Errorf("image size %d", m.Image.Size)
	case !isSHA256(m.Image.SHA256):
		return fmt.Errorf("image sha256 %q is not 64 lower-case hex digits", m.Image.SHA256)
	}
	if want := (m.Image.Size + ChunkSize - 1) / ChunkSize; int64(len(m.Image.Chunks)) != want {
		return fmt.Errorf("%d chunks listed, a %d-byte image has %d", len(m.Image.Chunks), m.Image.Size, want)
	}
	for i, c := range m.Image.Chunks {
		if !isSHA256(c) {
			return fmt.Errorf("chunk %d: sha256 %q is not 64 lower-case hex digits", i, c)
		}
	}
	return nil
}

// ParseSignatures decodes manifest.sig.
func ParseSignatures(b []byte) ([]Signature, error) {
	if len(b) > MaxSignatures {
		return nil, fmt.Errorf("%w: manifest.sig is %d bytes, more than %d", ErrFormat, len(b), MaxSignatures)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sigs []Signature
	if err := dec.Decode(&sigs); err != nil {
		return nil, fmt.Errorf("%w: manifest.sig: %v", ErrFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest.sig: data after the list", ErrFormat)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%w: manifest.sig: no signature", ErrFormat)
	}
	for i, s := range sigs {
		if len(s.KeyID) != 16 || !isHex(s.KeyID) {
			return nil, fmt.Errorf("%w: manifest.sig: signature %d: keyid %q is not 16 lower-case hex digits", ErrFormat, i, s.KeyID)
		}
		if _, err := base64.StdEncoding.DecodeString(s.Sig); err != nil {
			return nil, fmt.Errorf("%w: manifest.sig: signature %d: %v", ErrFormat, i, err)
		}
	}
	return sigs, nil
}

// canonical is v as golang.org/x/mod/semver wants it (with the leading v).
func canonical(v string) string {
	if strings.HasPrefix(v, "v") {
		return v
	}
	return "v" + v
}

// CompareVersions compares two versions as semantic versions (-1, 0, +1); an invalid one sorts
// before every valid one.
func CompareVersions(a, b string) int { return semver.Compare(canonical(a), canonical(b)) }

func isSHA256(s string) bool { return len(s) == 64 && isHex(s) }

func isHex(s string) bool {
	if _, err := hex.DecodeString(s); err != nil {
		return false
	}
	return strings.ToLower(s) == s
}
