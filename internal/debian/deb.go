package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ar(5) layout, as dpkg writes it (deb(5)): the global magic, then members each with a 60-byte
// header: name[16] mtime[12] uid[6] gid[6] mode[8] size[10] fmag[2]="`\n", data padded to an
// even offset.
const (
	arMagic     = "!<arch>\n"
	arHeaderLen = 60
)

// arMember is one member of an ar archive.
type arMember struct {
	Name   string
	Offset int64 // of the data
	Size   int64
}

// readAr lists the members of an ar archive of the given size.
func readAr(r io.ReaderAt, size int64) ([]arMember, error) {
	magic := make([]byte, len(arMagic))
	if _, err := r.ReadAt(magic, 0); err != nil || string(magic) != arMagic {
		return nil, errors.New("not an ar archive")
	}
	var out []arMember
	off := int64(len(arMagic))
	hdr := make([]byte, arHeaderLen)
	for off < size {
		if size-off < arHeaderLen {
			return nil, fmt.Errorf("ar: truncated header at offset %d", off)
		}
		if _, err := r.ReadAt(hdr, off); err != nil {
			return nil, fmt.Errorf("ar: header at offset %d: %w", off, err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, fmt.Errorf("ar: bad header magic at offset %d", off)
		}
		name := strings.TrimRight(string(hdr[0:16]), " ")
		name = strings.TrimSuffix(name, "/") // GNU ar ends names with '/'
		n, err := strconv.ParseInt(strings.TrimRight(string(hdr[48:58]), " "), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ar: member %q: bad size %q", name, strings.TrimSpace(string(hdr[48:58])))
		}
		data := off + arHeaderLen
		if n > size-data {
			return nil, fmt.Errorf("ar: member %q: size %d runs past the end of the archive", name, n)
		}
		out = append(out, arMember{Name: name, Offset: data, Size: n})
		off = data + n + n%2
	}
	return out, nil
}

// Deb is an opened binary package (deb(5)): debian-binary "2.x", control.tar[.gz|.xz|.zst] and
// data.tar[.gz|.xz|.zst] members of an ar archive.
type Deb struct {
	r       io.ReaderAt
	closer  io.Closer
	control Paragraph
	data    arMember
}

// ReadDeb opens a .deb held in r and reads its control file.
func ReadDeb(r io.ReaderAt, size int64) (*Deb, error) {
	members, err := readAr(r, size)
	if err != nil {
		return nil, err
	}
	if len(members) < 3 || members[0].Name != "debian-binary" {
		return nil, errors.New("deb: first member is not debian-binary")
	}
	ver := make([]byte, min(members[0].Size, 16))
	if _, err := r.ReadAt(ver, members[0].Offset); err != nil {
		return nil, fmt.Errorf("deb: debian-binary: %w", err)
	}
	if !bytes.HasPrefix(ver, []byte("2.")) {
		return nil, fmt.Errorf("deb: unsupported format version %q", strings.TrimSpace(string(ver)))
	}
	d := &Deb{r: r}
	var control *arMember
	for i := range members[1:] {
		m := &members[1+i]
		switch {
		case strings.HasPrefix(m.Name, "control.tar"):
			control = m
		case strings.HasPrefix(m.Name, "data.tar"):
			d.data = *m
		}
	}
	if control == nil || d.data.Name == "" {
		return nil, errors.New("deb: missing control.tar or data.tar member")
	}
	found := false
	err = walkTar(r, *control, func(hdr *tar.Header, body io.Reader) error {
		if hdr.Name != "control" || hdr.Typeflag != tar.TypeReg {
			return nil
		}
		paras, err := ParseControl(io.LimitReader(body, 1<<20))
		if err != nil {
			return fmt.Errorf("control: %w", err)
		}
		if len(paras) != 1 {
			return fmt.Errorf("control: want one paragraph, got %d", len(paras))
		}
		d.control, found = paras[0], true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("deb: %s: %w", control.Name, err)
	}
	if !found {
		return nil, fmt.Errorf("deb: %s has no control file", control.Name)
	}
	return d, nil
}

// OpenDeb opens the .deb file at path; Close releases it.
func OpenDeb(path string) (*Deb, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	d, err := ReadDeb(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.closer = f
	return d, nil
}

// Close closes the file opened by OpenDeb; it does nothing for ReadDeb.
func (d *Deb) Close() error {
	if d.closer != nil {
		return d.closer.Close()
	}
	return nil
}

// Control returns the package's control paragraph (Package, Version, Depends...).
func (d *Deb) Control() Paragraph { return d.control }

// DataMember is the name of the data member, e.g. "data.tar.xz".
func (d *Deb) DataMember() string { return d.data.Name }

// UnsafePathError reports an archive entry whose path (or hard-link target) would leave the root.
type UnsafePathError struct {
	Member, Name string
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("%s: entry %q leaves the package root", e.Member, e.Name)
}

// WalkData calls fn for each entry of data.tar in archive order. Entry names are cleaned to
// relative paths ("usr/bin/x", no "./" prefix, no trailing slash; hard-link targets likewise) and
// the root entry "./" is skipped. An entry that would land outside the root (an absolute path
// or one with "..") stops the walk with an *UnsafePathError: nothing of it is passed to fn.
// Symlink targets are left as written; they are data, not paths to write to.
func (d *Deb) WalkData(fn func(hdr *tar.Header, r io.Reader) error) error {
	return walkTar(d.r, d.data, fn)
}

func walkTar(r io.ReaderAt, m arMember, fn func(*tar.Header, io.Reader) error) error {
	// Buffered: decompressors read in small pieces, each a ReadAt on the file.
	raw := bufio.NewReaderSize(io.NewSectionReader(r, m.Offset, m.Size), 1<<16)
	var (
		body io.Reader
		err  error
	)
	switch path.Ext(m.Name) {
	case ".tar":
		body = raw
	case ".gz":
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(raw); err == nil {
			defer zr.Close()
			body = zr
		}
	case ".xz":
		body, err = xz.NewReader(raw)
	case ".zst":
		var zr *zstd.Decoder
		if zr, err = zstd.NewReader(raw, zstd.WithDecoderConcurrency(1)); err == nil {
			defer zr.Close()
			body = zr
		}
	default:
		return fmt.Errorf("%s: unsupported compression", m.Name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	tr := tar.NewReader(body)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		name, ok := cleanEntry(hdr.Name)
		if !ok {
			return &UnsafePathError{Member: m.Name, Name: hdr.Name}
		}
		if name == "" {
			continue // the root directory itself
		}
		hdr.Name = name
		if hdr.Typeflag == tar.TypeLink {
			link, ok := cleanEntry(hdr.Linkname)
			if !ok || link == "" {
				return &UnsafePathError{Member: m.Name, Name: hdr.Name + " -> " + hdr.Linkname}
			}
			hdr.Linkname = link
		}
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

// cleanEntry turns "./usr/bin/" into "usr/bin"; ok is false for absolute paths and any ".."
// component.
func cleanEntry(name string) (string, bool) {
	if strings.HasPrefix(name, "/") || name == "" {
		return "", false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", false
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", true
	}
	return c, true
}
