package bundle

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseManifest: any bytes either parse into a manifest that holds together or give ErrFormat.
func FuzzParseManifest(f *testing.F) {
	b, _ := makeBundle(f, ChunkSize+1, "2.0.0", testKey(1))
	f.Add(split(f, b).manifest)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("not ErrFormat: %v", err)
			}
			return
		}
		if err := m.check(); err != nil {
			t.Fatalf("parsed a manifest that does not hold together: %v", err)
		}
	})
}

// FuzzParseSignatures: any bytes either parse or give ErrFormat; a parsed list is never empty.
func FuzzParseSignatures(f *testing.F) {
	b, _ := makeBundle(f, 10, "2.0.0", testKey(1))
	f.Add(split(f, b).sig)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"keyid":"0011223344556677","sig":"!!"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sigs, err := ParseSignatures(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("not ErrFormat: %v", err)
			}
			return
		}
		if len(sigs) == 0 {
			t.Fatal("an empty list parsed")
		}
	})
}

// FuzzOpen: no altered header of a bundle is taken unless its manifest and signature are the
// signed ones.
func FuzzOpen(f *testing.F) {
	good, _ := makeBundle(f, 100, "2.0.0", testKey(1))
	pt := split(f, good)
	f.Add(pt.magic, pt.manifest, pt.sig)
	f.Fuzz(func(t *testing.T, magic, manifest, sig []byte) {
		b := parts{magic, manifest, sig, pt.image}.join(t)
		r, err := Open(bytes.NewReader(b), policy())
		if err != nil {
			return
		}
		if !bytes.Equal(manifest, pt.manifest) {
			t.Fatalf("took a manifest that was not signed: %s", manifest)
		}
		_ = r
	})
}
