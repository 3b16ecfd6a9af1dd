package bundle

import (
	"archive/tar"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Write writes the bundle of the slot image at image to w, signed with key. id gives the
// manifest's identity (Edition, Arch, Version, BuildID, Created); the rest is computed. The bytes
// depend only on the image, id and the key: every tar header is fixed (mode 0644, owner 0,
// modification time id.Created), and Ed25519 signatures are deterministic (RFC 8032, 5.1.6).
// It returns the manifest as written.
func Write(w io.Writer, image string, id Manifest, key ed25519.PrivateKey) (*Manifest, error) {
	f, err := os.Open(image)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	m := id
	m.Format = FormatVersion
	m.Compatible = Compatible(m.Edition, m.Arch)
	m.Created = m.Created.UTC().Truncate(1e9) // whole seconds: a ustar header holds no more
	m.Image = Image{Size: fi.Size(), ChunkSize: ChunkSize}
	// The first pass digests the chunks: the manifest precedes the image in the stream.
	whole := sha256.New()
	buf := make([]byte, ChunkSize)
	for off := int64(0); off < m.Image.Size; off += ChunkSize {
		n := min(ChunkSize, m.Image.Size-off)
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return nil, fmt.Errorf("%s: %w", image, err)
		}
		sum := sha256.Sum256(buf[:n])
		m.Image.Chunks = append(m.Image.Chunks, hex.EncodeToString(sum[:]))
		whole.Write(buf[:n])
	}
	m.Image.SHA256 = hex.EncodeToString(whole.Sum(nil))
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("bundle of %s: %w", image, err)
	}
	mj, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return nil, err
	}
	mj = append(mj, '\n')
	pub := key.Public().(ed25519.PublicKey)
	sj, err := json.Marshal([]Signature{{KeyID: KeyID(pub), Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, mj))}})
	if err != nil {
		return nil, err
	}
	sj = append(sj, '\n')

	tw := tar.NewWriter(w)
	hdr := func(name string, size int64) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: m.Created, Format: tar.FormatUSTAR}
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{NameMagic, []byte(Magic)}, {NameManifest, mj}, {NameSig, sj}} {
		if err := tw.WriteHeader(hdr(e.name, int64(len(e.data)))); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(hdr(NameImage, m.Image.Size)); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// The image is read again: a change between the passes would make a bundle that no device
	// takes, so the second pass is digested too.
	again := sha256.New()
	if n, err := io.Copy(tw, io.TeeReader(io.LimitReader(f, m.Image.Size), again)); err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	} else if n != m.Image.Size {
		return nil, fmt.Errorf("%s: shrank from %d to %d bytes while the bundle was written", image, m.Image.Size, n)
	}
	if hex.EncodeToString(again.Sum(nil)) != m.Image.SHA256 {
		return nil, fmt.Errorf("%s changed while the bundle was written", image)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &m, nil
}
