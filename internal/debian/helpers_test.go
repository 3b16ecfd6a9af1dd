package debian

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

var testTime = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB, name string) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return testTime.Add(-24 * time.Hour) }}
	e, err := openpgp.NewEntity(name, "", name+"@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func publicRing(t testing.TB, es ...*openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func clearsignWith(t testing.TB, text string, es ...*openpgp.Entity) []byte {
	t.Helper()
	var keys []*packet.PrivateKey
	for _, e := range es {
		keys = append(keys, e.PrivateKey)
	}
	var b bytes.Buffer
	w, err := clearsign.EncodeMulti(&b, keys, &packet.Config{Time: func() time.Time { return testTime }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tarFile is one entry for makeTar.
type tarFile struct {
	Name, Body, Link string
	Type             byte
}

func makeTar(t testing.TB, files []tarFile) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		typ := f.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: f.Name, Typeflag: typ, Mode: 0o644, Size: int64(len(f.Body)), Linkname: f.Link, ModTime: testTime, Format: tar.FormatGNU}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(f.Body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t testing.TB, data []byte, ext string) []byte {
	t.Helper()
	var b bytes.Buffer
	switch ext {
	case "":
		return data
	case ".gz":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case ".xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case ".zst":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	default:
		t.Fatalf("compression %q", ext)
	}
	return b.Bytes()
}

type arEntry struct {
	Name string
	Data []byte
}

// makeAr writes an ar(5) archive the way dpkg-deb does (names with no GNU '/' suffix).
func makeAr(entries []arEntry) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, e := range entries {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", e.Name, 0, 0, 0, 0o100644, len(e.Data))
		b.Write(e.Data)
		if len(e.Data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// makeDeb builds a .deb with the given control text and data entries.
func makeDeb(t testing.TB, control string, ctlExt, dataExt string, data []tarFile) []byte {
	t.Helper()
	ctl := makeTar(t, []tarFile{{Name: "./", Type: tar.TypeDir}, {Name: "./control", Body: control}})
	return makeAr([]arEntry{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar" + ctlExt, compress(t, ctl, ctlExt)},
		{"data.tar" + dataExt, compress(t, makeTar(t, data), dataExt)},
	})
}
