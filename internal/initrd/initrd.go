// Package initrd writes an fstree.Tree as an initramfs: a newc cpio archive
// (Documentation/driver-api/early-userspace/buffer-format.rst in the kernel tree), optionally
// compressed, byte-for-byte the same for the same tree and SourceDate.
//
// The kernel unpacks a concatenation of such archives, compressed or not, each over the last
// (buffer-format.rst: "initramfs := ("\0" | cpio_archive | cpio_gzip_archive)*", with "arbitrary
// amounts of zero bytes (for padding) ... between members"). So the builder writes one segment
// per component (WriteSegment) and joins them with Concat, and a component that did not change
// can keep its cached segment.
package initrd

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"

	"github.com/genai-os/genai-build/internal/fstree"
)

// Compression is how a segment is compressed. Every kind here is one Debian's kernel
// decompresses (CONFIG_RD_GZIP, RD_XZ, RD_ZSTD are all =y).
type Compression int

const (
	None Compression = iota
	Zstd             // klauspost/compress, default level: fastest to unpack at boot
	Gzip
	XZ // with a CRC32 check: the kernel's XZ decoder rejects CRC64 (lib/xz/xz_dec_stream.c)
)

var compressionNames = [...]string{None: "none", Zstd: "zstd", Gzip: "gzip", XZ: "xz"}

func (c Compression) String() string {
	if c >= 0 && int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

// Extension is the file name suffix for an archive compressed this way (".cpio" follows it).
func (c Compression) Extension() string {
	switch c {
	case Zstd:
		return ".zst"
	case Gzip:
		return ".gz"
	case XZ:
		return ".xz"
	}
	return ""
}

// ParseCompression reads "none" (or ""), "zstd", "gzip" or "xz", as written in an edition.
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return None, nil
	case "zstd", "zst":
		return Zstd, nil
	case "gzip", "gz":
		return Gzip, nil
	case "xz":
		return XZ, nil
	}
	return None, fmt.Errorf("unknown initramfs compression %q (want none, zstd, gzip or xz)", s)
}

// Options says how to write an archive.
type Options struct {
	// SourceDate is every entry's mtime. The zero time writes 0 (1970-01-01); newc holds 32 bits,
	// so dates before 1970 or after 2106 are an error.
	SourceDate  time.Time
	Compression Compression
}

// Write writes every entry of tree, in Entries order (sorted, so parents come first), as one
// newc cpio archive ending in TRAILER!!!, compressed as opts says. Owners come from the entries;
// every mtime is opts.SourceDate; inode numbers count up from 1 in that order; nlink is 2 for
// directories and 1 for everything else (the kernel only links entries with nlink > 1, so
// archives made apart never turn into hard links of each other); device numbers are 0.
// Symlinks are written with mode 0777, as Linux has them.
func Write(w io.Writer, tree *fstree.Tree, opts Options) error {
	mtime, err := mtimeOf(opts.SourceDate)
	if err != nil {
		return err
	}
	cw, err := compressor(w, opts.Compression)
	if err != nil {
		return err
	}
	if err := writeArchive(cw, tree, mtime); err != nil {
		cw.Close()
		return err
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("initramfs: finishing %s stream: %w", opts.Compression, err)
	}
	return nil
}

// WriteSegment writes one segment of a multi-segment initramfs. It is Write: a segment is a
// whole archive with its own trailer and compression; Concat joins segments.
func WriteSegment(w io.Writer, tree *fstree.Tree, opts Options) error { return Write(w, tree, opts) }

// Concat writes segments one after another, padding each with zero bytes to a multiple of 4.
//
// Why 4: init/initramfs.c (unpack_to_rootfs) takes an uncompressed archive only where a '0'
// byte sits at an offset that is 4-aligned ("*buf == '0' && !(this_header & 3)"), counting from
// the end of the last compressed member; it skips zero bytes one at a time; a compressed member
// starts at any offset and ends where its decompressor stopped. Padding every segment to 4 keeps
// an uncompressed segment aligned whatever comes before it, and costs a compressed one nothing.
// No 512-byte padding is needed (that is cpio(1)'s block size, not the kernel's).
func Concat(w io.Writer, segments ...io.Reader) error {
	var zeros [3]byte
	for i, s := range segments {
		n, err := io.Copy(w, s)
		if err != nil {
			return fmt.Errorf("initramfs segment %d: %w", i, err)
		}
		if pad := (4 - n%4) % 4; pad != 0 {
			if _, err := w.Write(zeros[:pad]); err != nil {
				return fmt.Errorf("initramfs segment %d: padding: %w", i, err)
			}
		}
	}
	return nil
}

func mtimeOf(t time.Time) (uint64, error) {
	if t.IsZero() {
		return 0, nil
	}
	s := t.Unix()
	if s < 0 || s > math.MaxUint32 { // c_mtime is 8 hex digits
		return 0, fmt.Errorf("initramfs: SourceDate %s does not fit newc's 32-bit mtime", t.UTC().Format(time.RFC3339))
	}
	return uint64(s), nil
}

// nopCloser gives an uncompressed stream the Close the compressors have.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case None:
		return nopCloser{w}, nil
	case Zstd:
		// One encoder goroutine, a fixed window: the stream is then the same on any machine.
		// 8 MiB is also the default window; the kernel unpacks up to 128 MiB
		// (lib/decompress_unzstd.c, ZSTD_WINDOWSIZE_MAX).
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(8<<20))
	case Gzip:
		// No name, no comment, ModTime zero: the header carries nothing from the build host.
		gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return nil, err
		}
		gz.Header = gzip.Header{OS: 255} // RFC 1952 2.3.1: 255 = unknown OS
		return gz, nil
	case XZ:
		return xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(w)
	}
	return nil, fmt.Errorf("initramfs: unknown compression %v", c)
}

func writeArchive(w io.Writer, tree *fstree.Tree, mtime uint64) error {
	rw := cpio.Newc.Writer(w)
	for i, e := range tree.Entries() {
		rec, closer, err := record(e)
		if err != nil {
			return fmt.Errorf("initramfs: %s: %w", e.Path, err)
		}
		rec.Ino = uint64(i + 1)
		rec.MTime = mtime
		err = rw.WriteRecord(rec)
		if closer != nil {
			closer.Close()
		}
		if err != nil {
			return fmt.Errorf("initramfs: writing %s (from %s): %w", e.Path, e.Origin, err)
		}
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return fmt.Errorf("initramfs: writing trailer: %w", err)
	}
	return nil
}

// readerAtOnly hides Close: u-root's writer closes an io.Closer content itself, but only when
// the copy succeeds, so we close it ourselves in every case.
type readerAtOnly struct{ io.ReaderAt }

func record(e *fstree.Entry) (cpio.Record, io.Closer, error) {
	if e.UID < 0 || e.UID > math.MaxUint32 || e.GID < 0 || e.GID > math.MaxUint32 {
		return cpio.Record{}, nil, fmt.Errorf("owner %d:%d does not fit newc's 32-bit fields", e.UID, e.GID)
	}
	info := cpio.Info{
		Name: e.Path,
		UID:  uint64(e.UID),
		GID:  uint64(e.GID),
	}
	switch e.Kind {
	case fstree.Dir:
		info.Mode = cpio.S_IFDIR | uint64(e.PermBits())
		info.NLink = 2
		return cpio.Record{Info: info}, nil, nil
	case fstree.Symlink:
		// The kernel's do_symlink reads the target from the body (c_filesize must not be 0).
		info.Mode = cpio.S_IFLNK | 0o777
		info.NLink = 1
		info.FileSize = uint64(len(e.Target))
		return cpio.Record{Info: info, ReaderAt: strings.NewReader(e.Target)}, nil, nil
	case fstree.File:
		info.Mode = cpio.S_IFREG | uint64(e.PermBits())
		info.NLink = 1
		size := e.Size
		if e.Source == "" {
			size = int64(len(e.Data))
		}
		if size < 0 || size > math.MaxUint32 { // c_filesize is 8 hex digits
			return cpio.Record{}, nil, fmt.Errorf("size %d does not fit newc's 32-bit c_filesize", size)
		}
		info.FileSize = uint64(size)
		if e.Source == "" {
			return cpio.Record{Info: info, ReaderAt: bytes.NewReader(e.Data)}, nil, nil
		}
		// The writer checks that exactly Size bytes were copied, so a host file that changed
		// since the tree was built is an error, not a corrupt archive.
		f, err := os.Open(e.Source)
		if err != nil {
			return cpio.Record{}, nil, err
		}
		return cpio.Record{Info: info, ReaderAt: readerAtOnly{f}}, f, nil
	}
	return cpio.Record{}, nil, errors.New("unsupported entry kind " + e.Kind.String())
}
