package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Why a device refuses a bundle. Each error that wraps one says what to do.
var (
	// ErrUnknownKey: no signature is by a key the device trusts. Build the bundle with the
	// --update-key whose public key the device's image holds (/etc/genai/update-keys).
	ErrUnknownKey = errors.New("signed by a key this system does not trust")
	// ErrSignature: a trusted key's signature does not verify: the manifest was altered after
	// signing. Get the bundle again from where it was built.
	ErrSignature = errors.New("the signature does not verify")
	// ErrCompatible: the bundle is for another edition or architecture. Build one for this
	// system's edition.
	ErrCompatible = errors.New("the bundle is for another system")
	// ErrDowngrade: the bundle's version is not newer than the running one. Install it on purpose
	// with AllowDowngrade (genai-update install --allow-downgrade).
	ErrDowngrade = errors.New("not newer than the running system")
	// ErrTooLarge: the image does not fit the slot. Build it with a smaller root, or repartition.
	ErrTooLarge = errors.New("the image is larger than the slot")
	// ErrChunk: a chunk of the image differs from the signed manifest (a *ChunkError says which):
	// the bundle was altered or damaged in transit. Nothing from that chunk on was written; the
	// slot holds no complete system. Get the bundle again and install it again.
	ErrChunk = errors.New("a chunk of the image does not match the signed manifest")
	// ErrReadBack: the written slot, read back, is not the image: the storage failed to keep
	// what was written. Install again; if it repeats, the device's storage is failing.
	ErrReadBack = errors.New("the slot does not read back as written")
)

// ChunkError is a chunk whose SHA-256 differs from the manifest's.
type ChunkError struct {
	Index  int
	Offset int64
	Want   string
	Got    string
}

func (e *ChunkError) Error() string {
	return fmt.Sprintf("chunk %d (at byte %d): sha256 %s, the signed manifest says %s: the bundle was altered or damaged in transit; nothing from this chunk on was written; get it again and install it again",
		e.Index, e.Offset, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrChunk) true.
func (e *ChunkError) Is(target error) bool { return target == ErrChunk }

// Policy is what a device accepts.
type Policy struct {
	Keys Keyring
	// Edition and Arch are the running system's: only Compatible(Edition, Arch) is taken.
	Edition, Arch string
	// Version is the running system's; a bundle must be newer unless AllowDowngrade.
	Version        string
	AllowDowngrade bool
	// TargetSize is the slot's size in bytes.
	TargetSize int64
}

// Reader is a bundle whose manifest has been read, verified and accepted; its image is next in
// the stream.
type Reader struct {
	Manifest *Manifest
	KeyID    string // the key that signed it
	tr       *tar.Reader
	used     bool
}

// Open reads a bundle's header entries from r, checks the signature against p.Keys, then the
// manifest against p, and returns the bundle positioned at its image. Nothing is written.
func Open(r io.Reader, p Policy) (*Reader, error) {
	tr := tar.NewReader(r)
	magic, err := entry(tr, NameMagic, int64(len(Magic)))
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("%w: it starts with %q, want %q", ErrFormat, magic, Magic)
	}
	mj, err := entry(tr, NameManifest, MaxManifest)
	if err != nil {
		return nil, err
	}
	sj, err := entry(tr, NameSig, MaxSignatures)
	if err != nil {
		return nil, err
	}
	keyID, err := Verify(mj, sj, p.Keys)
	if err != nil {
		return nil, err
	}
	// Only signed bytes are decoded.
	m, err := ParseManifest(mj)
	if err != nil {
		return nil, err
	}
	if err := p.Check(m); err != nil {
		return nil, err
	}
	return &Reader{Manifest: m, KeyID: keyID, tr: tr}, nil
}

// Verify checks manifest.sig (sig) over manifest.json (manifest) and returns the key id of the
// trusted key whose signature verifies.
func Verify(manifest, sig []byte, keys Keyring) (string, error) {
	sigs, err := ParseSignatures(sig)
	if err != nil {
		return "", err
	}
	known := false
	for _, s := range sigs {
		pub, ok := keys[s.KeyID]
		if !ok {
			continue
		}
		known = true
		raw, _ := base64.StdEncoding.DecodeString(s.Sig) // ParseSignatures checked it
		if ed25519.Verify(pub, manifest, raw) {
			return s.KeyID, nil
		}
	}
	if !known {
		return "", fmt.Errorf("%w: key %s, trusted: %v; build the bundle with the --update-key whose public key is in this system's /%s",
			ErrUnknownKey, keyIDs(sigs), keys.IDs(), TrustedKeysDir)
	}
	return "", fmt.Errorf("%w (key %s): the manifest was altered after it was signed; get the bundle again from where it was built", ErrSignature, keyIDs(sigs))
}

// Check says whether the policy takes a (verified) manifest.
func (p Policy) Check(m *Manifest) error {
	if want := Compatible(p.Edition, p.Arch); m.Compatible != want {
		return fmt.Errorf("%w: it is for %s, this system is %s; build the bundle for this edition (genai-build bundle --edition %s)", ErrCompatible, m.Compatible, want, p.Edition)
	}
	c := CompareVersions(m.Version, p.Version)
	if c < 0 && !p.AllowDowngrade {
		return fmt.Errorf("%w: version %s is older than the running %s; pass --allow-downgrade to install it on purpose", ErrDowngrade, m.Version, p.Version)
	}
	if c == 0 && !p.AllowDowngrade {
		return fmt.Errorf("%w: version %s is the running version; pass --allow-downgrade to install it again on purpose", ErrDowngrade, m.Version)
	}
	if m.Image.Size > p.TargetSize {
		return fmt.Errorf("%w: %d bytes, the slot holds %d", ErrTooLarge, m.Image.Size, p.TargetSize)
	}
	return nil
}

// Target is where an image is written: a slot's block device, or a file in tests.
type Target interface {
	io.WriterAt
	io.ReaderAt
	Sync() error
}

// Install streams the image into t from offset 0: each chunk is read into memory, its SHA-256
// compared with the manifest's, and only then written. After the last chunk t is synced and the
// written range read back and compared with the image's SHA-256. progress (may be nil) gets the
// bytes written so far after each chunk. An error leaves t holding the chunks before the one
// that failed.
func (b *Reader) Install(t Target, progress func(done, total int64)) error {
	if b.used {
		return errors.New("bundle: Install called twice")
	}
	b.used = true
	m := b.Manifest
	h, err := b.tr.Next()
	if err != nil {
		return fmt.Errorf("%w: no %s after the manifest: %v", ErrFormat, NameImage, err)
	}
	if h.Name != NameImage || h.Typeflag != tar.TypeReg {
		return fmt.Errorf("%w: entry %q where %s belongs", ErrFormat, h.Name, NameImage)
	}
	if h.Size != m.Image.Size {
		return fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrFormat, NameImage, h.Size, m.Image.Size)
	}
	buf := make([]byte, ChunkSize)
	whole := sha256.New()
	for i, want := range m.Image.Chunks {
		off := int64(i) * ChunkSize
		n := min(ChunkSize, m.Image.Size-off)
		if _, err := io.ReadFull(b.tr, buf[:n]); err != nil {
			return fmt.Errorf("%w: the stream ended in chunk %d (at byte %d): %v; nothing from this chunk on was written; install again", ErrFormat, i, off, err)
		}
		sum := sha256.Sum256(buf[:n])
		if got := hex.EncodeToString(sum[:]); got != want {
			return &ChunkError{Index: i, Offset: off, Want: want, Got: got}
		}
		if _, err := t.WriteAt(buf[:n], off); err != nil {
			return fmt.Errorf("writing chunk %d at byte %d: %w", i, off, err)
		}
		whole.Write(buf[:n])
		if progress != nil {
			progress(off+n, m.Image.Size)
		}
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != m.Image.SHA256 {
		// Every chunk matched, so the manifest itself does not hold together (signed that way).
		return fmt.Errorf("%w: the chunks make sha256 %s, the manifest says %s", ErrFormat, got, m.Image.SHA256)
	}
	if err := t.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return ReadBack(t, m)
}

// ReadBack reads the image's range of t and compares its SHA-256 with the manifest's.
func ReadBack(t io.ReaderAt, m *Manifest) error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(t, 0, m.Image.Size)); err != nil {
		return fmt.Errorf("reading the slot back: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.Image.SHA256 {
		return fmt.Errorf("%w: sha256 %s, want %s; install again, and if it repeats the storage is failing", ErrReadBack, got, m.Image.SHA256)
	}
	return nil
}

// entry reads the next tar entry, which must be the regular file name of at most max bytes.
func entry(tr *tar.Reader, name string, max int64) ([]byte, error) {
	h, err := tr.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: reading %s: %v", ErrFormat, name, err)
	}
	if h.Name != name || h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%w: entry %q where %s belongs", ErrFormat, h.Name, name)
	}
	if h.Size > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrFormat, name, h.Size, max)
	}
	var b bytes.Buffer
	if _, err := io.CopyN(&b, tr, h.Size); err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrFormat, name, err)
	}
	return b.Bytes(), nil
}
