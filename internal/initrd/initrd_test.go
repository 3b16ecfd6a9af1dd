package initrd

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"

	"github.com/genai-os/genai-build/internal/fstree"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var sourceDate = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func mustAdd(t *testing.T, tr *fstree.Tree, e fstree.Entry) {
	t.Helper()
	if err := tr.Add(e); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, tr *fstree.Tree, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, tr, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testTree has every kind of entry and mode the writer must carry.
func testTree(t *testing.T) *fstree.Tree {
	host := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(host, []byte("#!/bin/sh\necho from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := fstree.New()
	mustAdd(t, tr, fstree.Entry{Path: "bin", Kind: fstree.Dir, Mode: 0o755})
	mustAdd(t, tr, fstree.Entry{Path: "bin/su", Kind: fstree.File, Mode: 0o755 | fs.ModeSetuid, Data: []byte("su")})
	mustAdd(t, tr, fstree.Entry{Path: "bin/wall", Kind: fstree.File, Mode: 0o2755, GID: 5, Data: []byte("wall")})
	mustAdd(t, tr, fstree.Entry{Path: "bin/sh", Kind: fstree.File, Mode: 0o755, Source: host, Size: 29})
	mustAdd(t, tr, fstree.Entry{Path: "init", Kind: fstree.Symlink, Target: "bin/consciousness-init"})
	mustAdd(t, tr, fstree.Entry{Path: "tmp", Kind: fstree.Dir, Mode: 0o777 | fs.ModeSticky})
	mustAdd(t, tr, fstree.Entry{Path: "home/user/.profile", Kind: fstree.File, Mode: 0o644, UID: 1000, GID: 1000, Data: []byte("PS1='$ '\n")})
	mustAdd(t, tr, fstree.Entry{Path: "etc/empty", Kind: fstree.File, Mode: 0o600})
	return tr
}

type want struct {
	name        string
	mode        uint64
	uid, gid    uint64
	nlink, size uint64
	content     string
}

func TestWriteReadBack(t *testing.T) {
	tr := testTree(t)
	data := write(t, tr, Options{SourceDate: sourceDate})
	wants := []want{
		{"bin", cpio.S_IFDIR | 0o755, 0, 0, 2, 0, ""},
		{"bin/sh", cpio.S_IFREG | 0o755, 0, 0, 1, 29, "#!/bin/sh\necho from the host\n"},
		{"bin/su", cpio.S_IFREG | 0o4755, 0, 0, 1, 2, "su"},
		{"bin/wall", cpio.S_IFREG | 0o2755, 0, 5, 1, 4, "wall"},
		{"etc", cpio.S_IFDIR | 0o755, 0, 0, 2, 0, ""},
		{"etc/empty", cpio.S_IFREG | 0o600, 0, 0, 1, 0, ""},
		{"home", cpio.S_IFDIR | 0o755, 0, 0, 2, 0, ""},
		{"home/user", cpio.S_IFDIR | 0o755, 0, 0, 2, 0, ""},
		{"home/user/.profile", cpio.S_IFREG | 0o644, 1000, 1000, 1, 9, "PS1='$ '\n"},
		{"init", cpio.S_IFLNK | 0o777, 0, 0, 1, 22, "bin/consciousness-init"},
		{"tmp", cpio.S_IFDIR | 0o1777, 0, 0, 2, 0, ""},
	}

	// Read back twice: with u-root's reader, and with the parser below written from the spec.
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	own, end, err := parseNewc(data)
	if err != nil {
		t.Fatal(err)
	}
	if end != len(data) {
		t.Errorf("archive is %d bytes, trailer ends at %d", len(data), end)
	}
	if len(own) != len(wants)+1 || own[len(own)-1].Name != cpio.Trailer {
		t.Fatalf("own parser: %d records, want %d and a trailer", len(own), len(wants)+1)
	}
	if len(recs) != len(wants) {
		t.Fatalf("%d records, want %d", len(recs), len(wants))
	}
	for i, w := range wants {
		for _, got := range []cpio.Record{recs[i], own[i]} {
			content, err := io.ReadAll(io.NewSectionReader(got.ReaderAt, 0, int64(got.FileSize)))
			if err != nil {
				t.Fatal(err)
			}
			wantInfo := cpio.Info{
				Ino: uint64(i + 1), Mode: w.mode, UID: w.uid, GID: w.gid, NLink: w.nlink,
				MTime: uint64(sourceDate.Unix()), FileSize: w.size, Name: w.name,
			}
			if got.Info != wantInfo {
				t.Errorf("record %d:\n got %v\nwant %v", i, got.Info, wantInfo)
			}
			if string(content) != w.content {
				t.Errorf("%s: content %q, want %q", w.name, content, w.content)
			}
		}
	}
	if !bytes.HasPrefix(data, []byte("070701")) {
		t.Errorf("magic %q", data[:6])
	}
	if len(data)%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", len(data))
	}
}

// parseNewc reads a newc archive up to and including its trailer, following buffer-format.rst:
// "070701", 13 fields of 8 hex digits, the name and its NUL, padding to 4, the data, padding to 4.
func parseNewc(data []byte) (recs []cpio.Record, end int, err error) {
	pos := 0
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if len(data)-pos < 110 {
			return nil, 0, fmt.Errorf("offset %d: short header", pos)
		}
		h := data[pos : pos+110]
		if string(h[:6]) != "070701" {
			return nil, 0, fmt.Errorf("offset %d: magic %q", pos, h[:6])
		}
		var f [13]uint64
		for i := range f {
			if f[i], err = strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32); err != nil {
				return nil, 0, fmt.Errorf("offset %d field %d: %w", pos, i, err)
			}
		}
		if f[7] != 0 || f[8] != 0 || f[9] != 0 || f[10] != 0 || f[12] != 0 {
			return nil, 0, fmt.Errorf("offset %d: device numbers or checksum not zero: %v", pos, f)
		}
		nameEnd := pos + 110 + int(f[11])
		if f[11] == 0 || nameEnd > len(data) || data[nameEnd-1] != 0 {
			return nil, 0, fmt.Errorf("offset %d: bad name", pos)
		}
		name := string(data[pos+110 : nameEnd-1])
		body := align(nameEnd)
		pos = align(body + int(f[6]))
		if pos > len(data) {
			return nil, 0, fmt.Errorf("%s: body past the end", name)
		}
		recs = append(recs, cpio.Record{
			ReaderAt: bytes.NewReader(data[body : body+int(f[6])]),
			Info: cpio.Info{Ino: f[0], Mode: f[1], UID: f[2], GID: f[3], NLink: f[4], MTime: f[5],
				FileSize: f[6], Name: name},
		})
		if name == cpio.Trailer {
			return recs, pos, nil
		}
	}
}

func decompress(t *testing.T, c Compression, data []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch c {
	case None:
		return data
	case Zstd:
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data))
		if err == nil {
			defer d.Close()
			r = d
		}
	case Gzip:
		r, err = gzip.NewReader(bytes.NewReader(data))
	case XZ:
		r, err = xz.NewReader(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCompressionRoundTrip(t *testing.T) {
	tr := testTree(t)
	// Some bulk, so that the compressors have more than one block's worth of work.
	big := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 20000)
	mustAdd(t, tr, fstree.Entry{Path: "usr/share/big", Kind: fstree.File, Mode: 0o644, Data: big})
	plain := write(t, tr, Options{SourceDate: sourceDate})
	for _, c := range []Compression{None, Zstd, Gzip, XZ} {
		t.Run(c.String(), func(t *testing.T) {
			data := write(t, tr, Options{SourceDate: sourceDate, Compression: c})
			if got := decompress(t, c, data); !bytes.Equal(got, plain) {
				t.Fatalf("decompressed %d bytes differ from the plain archive's %d", len(got), len(plain))
			}
			if c != None && len(data) >= len(plain)/4 {
				t.Errorf("%s output is %d bytes for %d of input", c, len(data), len(plain))
			}
			switch c {
			case XZ:
				// xz file format 2.1.1.2: Stream Flags byte 1, low nibble = check type; 0x01 is CRC32.
				if data[7] != 0x01 {
					t.Errorf("xz check type %#x, want CRC32 (0x01)", data[7])
				}
			case Gzip:
				// RFC 1952 2.3: FLG (no FNAME/FCOMMENT) and MTIME are zero.
				if data[3] != 0 || !bytes.Equal(data[4:8], []byte{0, 0, 0, 0}) {
					t.Errorf("gzip header % x carries a name or a time", data[:10])
				}
			case Zstd:
				if !bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
					t.Errorf("zstd magic % x", data[:4])
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, c := range []Compression{None, Zstd, Gzip, XZ} {
		t.Run(c.String(), func(t *testing.T) {
			a := write(t, testTree(t), Options{SourceDate: sourceDate, Compression: c})
			b := write(t, testTree(t), Options{SourceDate: sourceDate, Compression: c})
			if !bytes.Equal(a, b) {
				t.Error("two writes of the same tree differ")
			}
			later := write(t, testTree(t), Options{SourceDate: sourceDate.Add(time.Second), Compression: c})
			if bytes.Equal(a, later) {
				t.Error("a different SourceDate gave the same bytes")
			}
		})
	}
}

func tinyTree(t *testing.T) *fstree.Tree {
	tr := fstree.New()
	mustAdd(t, tr, fstree.Entry{Path: "etc/hostname", Kind: fstree.File, Mode: 0o644, Data: []byte("genai\n")})
	mustAdd(t, tr, fstree.Entry{Path: "init", Kind: fstree.Symlink, Target: "bin/init"})
	return tr
}

func TestGolden(t *testing.T) {
	got := write(t, tinyTree(t), Options{SourceDate: sourceDate})
	golden := filepath.Join("testdata", "tiny.cpio.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("archive differs from %s (go test -update rewrites it):\n got %q\nwant %q", golden, got, want)
	}
}

func TestWriteErrors(t *testing.T) {
	// fstree.Add records a host file's size; these files change after that, as a file could
	// between assembling the tree and writing it.
	gone := filepath.Join(t.TempDir(), "nope")
	if err := os.WriteFile(gone, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := fstree.New()
	mustAdd(t, missing, fstree.Entry{Path: "x", Kind: fstree.File, Source: gone})
	os.Remove(gone)

	host := filepath.Join(t.TempDir(), "grown")
	if err := os.WriteFile(host, []byte("now"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := fstree.New()
	mustAdd(t, changed, fstree.Entry{Path: "x", Kind: fstree.File, Source: host, Origin: "overlay"})
	if err := os.WriteFile(host, []byte("now longer than recorded"), 0o644); err != nil {
		t.Fatal(err)
	}

	badOwner := fstree.New()
	mustAdd(t, badOwner, fstree.Entry{Path: "x", Kind: fstree.Dir, UID: -1})

	tests := []struct {
		name string
		tree *fstree.Tree
		opts Options
		err  string
	}{
		{"missing source", missing, Options{}, "initramfs: x: open"},
		{"source changed size", changed, Options{}, "initramfs: writing x (from overlay)"},
		{"negative uid", badOwner, Options{}, "does not fit"},
		{"date before 1970", tinyTree(t), Options{SourceDate: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}, "32-bit mtime"},
		{"date after 2106", tinyTree(t), Options{SourceDate: time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC)}, "32-bit mtime"},
		{"unknown compression", tinyTree(t), Options{Compression: 42}, "unknown compression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(io.Discard, tt.tree, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want it to contain %q", err, tt.err)
			}
		})
	}
}

func TestZeroSourceDate(t *testing.T) {
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(write(t, tinyTree(t), Options{}))))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.MTime != 0 {
			t.Errorf("%s: mtime %d, want 0", r.Name, r.MTime)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Compression
		err  bool
	}{
		{"", None, false}, {"none", None, false}, {"zstd", Zstd, false}, {"ZSTD", Zstd, false},
		{"gzip", Gzip, false}, {"gz", Gzip, false}, {"xz", XZ, false}, {"lz4", None, true},
	} {
		got, err := ParseCompression(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseCompression(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil {
			if back, _ := ParseCompression(got.String()); back != got {
				t.Errorf("%v does not round-trip through String", got)
			}
		}
	}
}

func TestConcat(t *testing.T) {
	tiny := write(t, tinyTree(t), Options{SourceDate: sourceDate})
	other := fstree.New()
	mustAdd(t, other, fstree.Entry{Path: "lib/modules/virtio_blk.ko.xz", Kind: fstree.File, Mode: 0o644, Data: []byte("ko")})
	zst := write(t, other, Options{SourceDate: sourceDate, Compression: Zstd})

	segs := [][]byte{tiny, zst, []byte("12345"), tiny}
	var out bytes.Buffer
	readers := make([]io.Reader, len(segs))
	for i, s := range segs {
		readers[i] = bytes.NewReader(s)
	}
	if err := Concat(&out, readers...); err != nil {
		t.Fatal(err)
	}
	got := out.Bytes()
	off := 0
	for i, s := range segs {
		if off%4 != 0 {
			t.Errorf("segment %d starts at %d, not 4-aligned", i, off)
		}
		if !bytes.Equal(got[off:off+len(s)], s) {
			t.Errorf("segment %d not found at %d", i, off)
		}
		next := (off + len(s) + 3) &^ 3
		if pad := got[off+len(s) : next]; bytes.Count(pad, []byte{0}) != len(pad) {
			t.Errorf("segment %d: padding % x is not zeros", i, pad)
		}
		off = next
	}
	if off != len(got) {
		t.Errorf("output is %d bytes, want %d", len(got), off)
	}
	// The uncompressed segment after the compressed one still parses where the kernel looks.
	last := off - len(tiny)
	if _, end, err := parseNewc(got[last:]); err != nil || end != len(tiny) {
		t.Errorf("last segment: end %d, err %v", end, err)
	}
	if err := Concat(io.Discard, iotestErrReader{}); err == nil || !strings.Contains(err.Error(), "segment 0") {
		t.Errorf("err = %v, want a segment 0 error", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("boom") }
