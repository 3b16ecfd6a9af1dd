// Package debtest builds Debian packages for tests (as net/http/httptest serves them): tar and
// ar(5) archives, compressed as dpkg-deb may, and whole .debs (deb(5)). Only tests import it.
package debtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// File is one tar entry.
type File struct {
	Name, Body, Link string
	Type             byte  // tar type flag; 0 is a regular file
	Mode             int64 // 0: 0755 for a directory, 0644 otherwise
	UID, GID         int
	ModTime          time.Time
}

// Tar writes files as a GNU tar archive, in order.
func Tar(t testing.TB, files []File) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		typ, mode := f.Type, f.Mode
		if typ == 0 {
			typ = tar.TypeReg
		}
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Name: f.Name, Typeflag: typ, Mode: mode, Uid: f.UID, Gid: f.GID, Linkname: f.Link,
			ModTime: f.ModTime, Format: tar.FormatGNU}
		if typ == tar.TypeReg {
			h.Size = int64(len(f.Body))
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

// Compress compresses data as a member named with ext would be: "" (none), ".gz", ".xz", ".zst".
func Compress(t testing.TB, data []byte, ext string) []byte {
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

// Member is one ar(5) archive member.
type Member struct {
	Name string
	Data []byte
}

// Ar writes an ar(5) archive the way dpkg-deb does (names with no GNU '/' suffix, even sizes).
func Ar(members ...Member) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.Name, 0, 0, 0, 0o100644, len(m.Data))
		b.Write(m.Data)
		if len(m.Data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Deb builds a .deb: debian-binary, control.tar<ctlExt> holding "./", "./control" and the extra
// control members (maintainer scripts, md5sums), and data.tar<dataExt> holding data.
func Deb(t testing.TB, control, ctlExt, dataExt string, extra, data []File) []byte {
	t.Helper()
	ctl := append([]File{{Name: "./", Type: tar.TypeDir}, {Name: "./control", Body: control}}, extra...)
	return Ar(
		Member{"debian-binary", []byte("2.0\n")},
		Member{"control.tar" + ctlExt, Compress(t, Tar(t, ctl), ctlExt)},
		Member{"data.tar" + dataExt, Compress(t, Tar(t, data), dataExt)},
	)
}
