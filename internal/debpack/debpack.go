// Package debpack writes Debian binary packages (.deb, deb(5)): an ar archive holding
// debian-binary, control.tar.xz (control, md5sums) and data.tar.xz (the files), byte for byte the
// same for the same input: entries sorted, owners root:root, every mtime the caller's SourceDate.
// internal/debian reads them back.
package debpack

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ulikunitz/xz"
)

// Control is a binary package's control file (Debian Policy §5.3; deb-control(5)). InstalledSize
// is computed by Build.
type Control struct {
	Package      string
	Version      string
	Architecture string // "amd64", or "all"
	Maintainer   string // "Name <email>"
	Section      string // Policy §2.4, e.g. "admin"
	Priority     string // Policy §2.5: "optional" for everything not part of a minimal system
	Depends      string // in control-file syntax; "" for static binaries that need nothing
	Homepage     string
	Synopsis     string // the Description's first line, under 80 characters
	// Long is the extended description: paragraphs separated by blank lines, each line wrapped
	// by Build (Policy §5.6.13).
	Long string
	// InstalledSize is the estimated installed size in KiB (Policy §5.6.20), set by Build.
	InstalledSize int64
}

// Policy §5.6.1 (Package: lower case letters, digits, + - ., at least two characters, starting
// with an alphanumeric) and §5.6.12 (Version: [epoch:]upstream[-revision]; the upstream part
// starts with a digit).
var (
	packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	versionRE   = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)
	maintainer  = regexp.MustCompile(`^[^<>\n]+ <[^<>@\s]+@[^<>@\s]+>$`)
)

// ValidVersion checks v against Debian's version syntax (Policy §5.6.12): an optional numeric
// epoch and colon, an upstream version starting with a digit, an optional -revision; letters,
// digits and . + ~ (and - only when a revision follows).
func ValidVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("version %q: want [epoch:]upstream[-revision], the upstream part starting with a digit, of letters, digits and . + ~ - (Debian Policy 5.6.12)", v)
	}
	up := v
	if i := strings.IndexByte(up, ':'); i >= 0 {
		up = up[i+1:]
	}
	if strings.HasSuffix(up, "-") {
		return fmt.Errorf("version %q: an empty Debian revision after the last '-'", v)
	}
	return nil
}

// Validate reports every problem of c at once.
func (c Control) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if !packageName.MatchString(c.Package) {
		bad("Package %q: lower-case letters, digits, + - . and at least two characters (Debian Policy 5.6.1)", c.Package)
	}
	if err := ValidVersion(c.Version); err != nil {
		bad("Version: %w", err)
	}
	if c.Architecture == "" || strings.ContainsAny(c.Architecture, " \n") {
		bad("Architecture %q: one Debian architecture name (amd64, all)", c.Architecture)
	}
	if !maintainer.MatchString(c.Maintainer) {
		bad("Maintainer %q: want \"Name <email>\"", c.Maintainer)
	}
	if c.Section == "" || c.Priority == "" {
		bad("Section and Priority are both needed (Debian Policy 2.4, 2.5)")
	}
	if c.Synopsis == "" || len(c.Synopsis) >= 80 || strings.Contains(c.Synopsis, "\n") {
		bad("Description synopsis %q: one line under 80 characters (Debian Policy 3.4.1)", c.Synopsis)
	}
	if strings.TrimSpace(c.Long) == "" {
		bad("Description of %s: the extended description is empty", c.Package)
	}
	for name, v := range map[string]string{"Depends": c.Depends, "Homepage": c.Homepage, "Section": c.Section, "Priority": c.Priority} {
		if strings.Contains(v, "\n") {
			bad("%s: one line", name)
		}
	}
	return errors.Join(errs...)
}

// Fields returns the control paragraph as (name, value) pairs in the order dpkg-gencontrol writes
// them, without the empty optional ones. A multi-line value (Description) has its continuation
// lines already formatted (Policy §5.1: a leading space; " ." for an empty line).
func (c Control) Fields() [][2]string {
	f := [][2]string{{"Package", c.Package}, {"Version", c.Version}, {"Architecture", c.Architecture},
		{"Maintainer", c.Maintainer}, {"Installed-Size", fmt.Sprint(c.InstalledSize)}}
	if c.Depends != "" {
		f = append(f, [2]string{"Depends", c.Depends})
	}
	f = append(f, [2]string{"Section", c.Section}, [2]string{"Priority", c.Priority})
	if c.Homepage != "" {
		f = append(f, [2]string{"Homepage", c.Homepage})
	}
	return append(f, [2]string{"Description", c.Synopsis + "\n" + formatLong(c.Long)})
}

// Text is the control file: each field "Name: value\n".
func (c Control) Text() string {
	var b strings.Builder
	for _, f := range c.Fields() {
		fmt.Fprintf(&b, "%s: %s\n", f[0], f[1])
	}
	return b.String()
}

// formatLong formats the extended description (Policy §5.6.13): every line starts with a space,
// an empty line is " .", paragraphs are wrapped at 72 columns. Lines already starting with a space
// are kept verbatim (displayed as they are).
func formatLong(long string) string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(long), "\n\n") {
		if len(out) > 0 {
			out = append(out, " .")
		}
		var line string
		flush := func() {
			if line != "" {
				out = append(out, " "+line)
				line = ""
			}
		}
		for _, l := range strings.Split(para, "\n") {
			if strings.HasPrefix(l, " ") {
				flush()
				out = append(out, " "+l)
				continue
			}
			for _, w := range strings.Fields(l) {
				if line != "" && len(line)+1+len(w) > 72 {
					flush()
				}
				if line != "" {
					line += " "
				}
				line += w
			}
		}
		flush()
	}
	return strings.Join(out, "\n")
}

// Entry is one file or symlink of the package's data. Folders are made for every parent.
type Entry struct {
	Path string      // relative, e.g. "usr/sbin/consciousness-init"
	Mode fs.FileMode // permission bits of a file (0644, 0755); ignored for a symlink
	Data []byte      // a regular file's content
	Link string      // a symlink's target, when not empty
}

// Package is a built .deb.
type Package struct {
	Control Control // with InstalledSize set
	Deb     []byte
}

// Filename is the .deb's canonical file name, <package>_<version without epoch>_<arch>.deb
// (dpkg-name's convention, as in Debian's pool).
func (p *Package) Filename() string {
	v := p.Control.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return fmt.Sprintf("%s_%s_%s.deb", p.Control.Package, v, p.Control.Architecture)
}

// Build makes the .deb of c and entries. Every entry's parent folders are added (0755); every
// entry is owned by root:root (0:0) and dated sourceDate; entries are sorted by path, as
// `dpkg-deb --build` with SOURCE_DATE_EPOCH and a sorted tree would write them.
func Build(c Control, entries []Entry, sourceDate time.Time) (*Package, error) {
	if sourceDate.IsZero() {
		return nil, errors.New("deb: no source date")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("deb %s: %w", c.Package, err)
	}
	files := map[string]Entry{}
	dirs := map[string]bool{}
	for _, e := range entries {
		p := path.Clean(e.Path)
		if p != e.Path || p == "." || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("deb %s: entry %q: want a clean relative path", c.Package, e.Path)
		}
		if _, dup := files[p]; dup {
			return nil, fmt.Errorf("deb %s: entry %q given twice", c.Package, p)
		}
		files[p] = e
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for p := range files {
		if dirs[p] {
			return nil, fmt.Errorf("deb %s: %q is both a file and a folder", c.Package, p)
		}
	}
	names := make([]string, 0, len(files)+len(dirs))
	for p := range files {
		names = append(names, p)
	}
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)

	// Installed-Size as dpkg-gencontrol estimates it: each file's size rounded up to a KiB, and
	// one KiB for each folder, symlink and other entry (Policy §5.6.20).
	size := int64(1) // the root folder
	var md5sums strings.Builder
	data := newTar(sourceDate)
	data.dir("./")
	for _, n := range names {
		e, isFile := files[n]
		switch {
		case !isFile:
			data.dir("./" + n + "/")
			size++
		case e.Link != "":
			data.symlink("./"+n, e.Link)
			size++
		default:
			mode := e.Mode.Perm()
			if mode == 0 {
				mode = 0o644
			}
			data.file("./"+n, int64(mode), e.Data)
			size += (int64(len(e.Data)) + 1023) / 1024
			sum := md5.Sum(e.Data)
			// md5sums: "<hex>  <path without ./>", as dh_md5sums writes it.
			fmt.Fprintf(&md5sums, "%s  %s\n", hex.EncodeToString(sum[:]), n)
		}
	}
	c.InstalledSize = size

	ctl := newTar(sourceDate)
	ctl.dir("./")
	ctl.file("./control", 0o644, []byte(c.Text()))
	ctl.file("./md5sums", 0o644, []byte(md5sums.String()))

	ctlXZ, err := ctl.xz()
	if err != nil {
		return nil, fmt.Errorf("deb %s: control.tar: %w", c.Package, err)
	}
	dataXZ, err := data.xz()
	if err != nil {
		return nil, fmt.Errorf("deb %s: data.tar: %w", c.Package, err)
	}
	var deb bytes.Buffer
	writeAr(&deb, sourceDate, []arMember{
		{"debian-binary", []byte("2.0\n")}, // deb(5): the format version, first
		{"control.tar.xz", ctlXZ},
		{"data.tar.xz", dataXZ},
	})
	return &Package{Control: c, Deb: deb.Bytes()}, nil
}

// tarWriter writes a reproducible tar: GNU format (as dpkg-deb writes), root:root, one mtime.
type tarWriter struct {
	buf  bytes.Buffer
	tw   *tar.Writer
	date time.Time
	err  error
}

func newTar(date time.Time) *tarWriter {
	t := &tarWriter{date: date.UTC().Truncate(time.Second)}
	t.tw = tar.NewWriter(&t.buf)
	return t
}

func (t *tarWriter) header(h *tar.Header) {
	if t.err != nil {
		return
	}
	h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "root", "root"
	h.ModTime = t.date
	h.Format = tar.FormatGNU
	t.err = t.tw.WriteHeader(h)
}

func (t *tarWriter) dir(name string) {
	t.header(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755})
}

func (t *tarWriter) symlink(name, target string) {
	t.header(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777})
}

func (t *tarWriter) file(name string, mode int64, data []byte) {
	t.header(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))})
	if t.err == nil {
		_, t.err = t.tw.Write(data)
	}
}

// xz closes the archive and compresses it (xz's default CRC64 check; dpkg reads any).
func (t *tarWriter) xz() ([]byte, error) {
	if t.err != nil {
		return nil, t.err
	}
	if err := t.tw.Close(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w, err := xz.NewWriter(&out)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, &t.buf); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type arMember struct {
	name string
	data []byte
}

// writeAr writes a common ar(5) archive as dpkg-deb does (deb(5)): the magic "!<arch>\n", then per
// member a 60-byte header (name[16] mtime[12] uid[6] gid[6] octal mode[8] size[10] "`\n") and the
// data padded with '\n' to an even length; names without GNU ar's trailing '/'.
func writeAr(w *bytes.Buffer, date time.Time, members []arMember) {
	w.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.name, date.Unix(), 0, 0, 0o100644, len(m.data))
		w.Write(m.data)
		if len(m.data)%2 == 1 {
			w.WriteByte('\n')
		}
	}
}
