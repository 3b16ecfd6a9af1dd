// Package debinstall unpacks Debian binary packages into an image's file tree, in Go, without root
// and without running anything: what dpkg --unpack does, plus the /var/lib/dpkg database so that
// `dpkg -l` inside the image lists what is installed. Maintainer scripts are not run; Install says
// which packages have them so the builder can do their work from data or report it.
//
// File contents are held in memory, or, with Options.Spool, streamed to a content-addressed
// directory on disk that the tree's entries then name: a desktop package set is gigabytes, and
// the unpacker then holds only one copy buffer of file content at a time.
package debinstall

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/fstree"
)

// Deb is one package to install: what the lock pins and the verified .deb blob.
type Deb struct {
	Package debian.LockedPackage // Name and Version are checked against the .deb's control file; SHA256, if set, against Path
	Path    string
}

// Options tune an installation.
type Options struct {
	// Overrides names, for a path two packages both write with different content, the package
	// whose version wins ("usr/bin/foo": "pkg-a"). Paths are as in the tree (after usr-merge).
	Overrides map[string]string
	// DropDocs leaves out usr/share/{doc,man,info,locale}, except each package's
	// usr/share/doc/<pkg>/copyright (the SBOM's licence source).
	DropDocs bool
	// KeepMan keeps usr/share/man and usr/share/info when DropDocs drops the rest.
	KeepMan bool
	// OriginPrefix is put before the package name in each entry's Origin; "deb:" if empty.
	OriginPrefix string
	// Spool, when set, is an existing directory (the caller owns it and removes it once the tree
	// is written) that receives every regular file's content, streamed from the package while
	// its SHA-256 is computed, at <Spool>/<first 2 hex digits>/<64 hex digits>. The tree's File
	// entries then carry Source (that path) and Size, not Data. Identical contents, within a
	// package or across packages, are stored once, so a digest names a file's content: the
	// spool may be shared by several Installs, even at once. Empty: contents are kept in Data.
	// The dpkg database (status, info/<pkg>.list, ...) is always in Data.
	Spool string
	// Hardlinks keeps a package's hard links as fstree.Hardlink entries naming the linked file's
	// tree path, for writers that store hard links (squashfs). False makes each a File of its
	// own with the linked file's content (initrd refuses hard links); with Spool that copy
	// names the same spool file, so no bytes are duplicated.
	Hardlinks bool
}

// Installed is what Install did.
type Installed struct {
	Packages []Package // in installation order, which is the order of debs
}

// Package is one installed package.
type Package struct {
	Name, Version, Architecture string
	Control                     debian.Paragraph
	// Scripts lists the maintainer scripts the package has and that were not run
	// ("preinst", "postinst", "prerm", "postrm", "config", "triggers"), sorted.
	Scripts []string
	// License is the first License: of a machine-readable usr/share/doc/<pkg>/copyright,
	// "see copyright" for one in free form, "NOASSERTION" (SPDX) when the package has none.
	License string
	// Files lists what the package put into the tree (tree paths, sorted), docs dropped excluded.
	Files []string
}

// HasMaintainerScripts reports whether any maintainer script was skipped for the package.
func (p Package) HasMaintainerScripts() bool { return len(p.Scripts) > 0 }

// UnsafeEntryError says a package's entry would be written outside the tree.
type UnsafeEntryError struct {
	Package, Entry, Reason string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("package %s: entry %q: %s", e.Package, e.Entry, e.Reason)
}

// ConflictError says two packages write one path with different content and no override names
// the winner.
type ConflictError struct {
	Path          string
	First, Second string // package names, in installation order
	Description   string
	OverrideHint  string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: packages %s and %s both install it with different content (%s); name the winner in the manifest's overrides",
		e.Path, e.First, e.Second, e.Description)
}

// usrMerge is trixie's merged-/usr layout (the usrmerge transition, completed for trixie: the top-level
// directories are symlinks into /usr, as base-files ships them, made before anything is unpacked).
var usrMerge = []struct{ link, target string }{
	{"bin", "usr/bin"},
	{"lib", "usr/lib"},
	{"lib64", "usr/lib64"},
	{"sbin", "usr/sbin"},
}

// maxSymlinks bounds symlink resolution, as the kernel does (MAXSYMLINKS, 40).
const maxSymlinks = 40

var docDirs = []string{"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/"}

var scriptNames = []string{"config", "postinst", "postrm", "preinst", "prerm", "triggers"}

// dpkgCopied are the control.tar files kept in /var/lib/dpkg/info/<pkg>.<name>.
var dpkgCopied = []string{"conffiles", "md5sums"}

type installer struct {
	tree   *fstree.Tree
	opts   Options
	owner  map[string]string // tree path -> package that installed it
	prefix string
	links  map[string][]string // tree path of a file -> the Hardlink entries naming it (some may be gone since)
	buf    []byte              // the copy buffer into the spool: the most file content in memory at once
	made   map[string]bool     // spool subdirectories made
}

// spoolBuffer is the size of the one buffer file contents go through on their way to the spool.
const spoolBuffer = 256 << 10

// Install unpacks debs, in order, into tree: the usr-merge symlinks first, then each package's
// data.tar with its modes, owners (numeric, from the archive), directories, symlinks and hard links
// (fstree.Hardlink entries with opts.Hardlinks, else copies), then var/lib/dpkg/status and
// var/lib/dpkg/info/<pkg>.list. File contents go to opts.Spool when it is set, else into memory.
// A package path that leaves the tree, directly or through a symlink, is an *UnsafeEntryError; two
// packages writing one path differently a *ConflictError unless opts.Overrides names the winner
// (a hard link compares as the file it names). A hard link keeps its package's content: when its
// file was left out (DropDocs) or lost to another package's version, the link becomes a file.
func Install(tree *fstree.Tree, debs []Deb, opts Options) (*Installed, error) {
	in := &installer{tree: tree, opts: opts, owner: map[string]string{}, prefix: opts.OriginPrefix, links: map[string][]string{}}
	if in.prefix == "" {
		in.prefix = "deb:"
	}
	if opts.Spool != "" {
		st, err := os.Stat(opts.Spool)
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("spool %s: not a directory", opts.Spool)
		}
		in.buf, in.made = make([]byte, spoolBuffer), map[string]bool{}
	}
	for _, m := range usrMerge {
		if err := tree.Add(fstree.Entry{Path: "usr/" + strings.TrimPrefix(m.target, "usr/"), Kind: fstree.Dir, Mode: 0o755, Origin: in.prefix + "usrmerge"}); err != nil {
			return nil, fmt.Errorf("usr-merge: %w", err)
		}
		if e, ok := tree.Get(m.link); ok && e.Kind == fstree.Symlink && e.Target == m.target {
			continue
		}
		if err := tree.Add(fstree.Entry{Path: m.link, Kind: fstree.Symlink, Mode: 0o777, Target: m.target, Origin: in.prefix + "usrmerge"}); err != nil {
			return nil, fmt.Errorf("usr-merge: %w", err)
		}
	}
	res := &Installed{}
	seen := map[string]bool{}
	for _, d := range debs {
		p, err := in.install(d)
		if err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("package %s: installed twice", p.Name)
		}
		seen[p.Name] = true
		res.Packages = append(res.Packages, *p)
	}
	for i := range res.Packages {
		p := &res.Packages[i]
		if p.License == "" {
			p.License = in.licenseVia(p.Name)
		}
	}
	if err := in.writeDatabase(res.Packages); err != nil {
		return nil, err
	}
	return res, nil
}

func (in *installer) install(d Deb) (*Package, error) {
	want := d.Package.Name
	f, err := os.Open(d.Path)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", want, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", want, err)
	}
	if d.Package.SHA256 != "" {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, fmt.Errorf("package %s: %w", want, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, d.Package.SHA256) {
			return nil, fmt.Errorf("package %s: %s has sha256 %s, the lock pins %s", want, d.Path, got, d.Package.SHA256)
		}
	}
	deb, err := debian.ReadDeb(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("package %s: %s: %w", want, d.Path, err)
	}
	ctl := deb.Control()
	p := &Package{Name: ctl.Get("Package"), Version: ctl.Get("Version"), Architecture: ctl.Get("Architecture"), Control: ctl}
	if want != "" && p.Name != want || d.Package.Version != "" && p.Version != d.Package.Version {
		return nil, fmt.Errorf("package %s %s: %s holds %s %s", want, d.Package.Version, d.Path, p.Name, p.Version)
	}
	name := p.Name
	extra := map[string][]byte{}
	err = debian.WalkDebControl(f, st.Size(), func(hdr *tar.Header, body io.Reader) error {
		if slices.Contains(scriptNames, hdr.Name) {
			p.Scripts = append(p.Scripts, hdr.Name)
		}
		if slices.Contains(dpkgCopied, hdr.Name) && hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(io.LimitReader(body, 16<<20))
			if err != nil {
				return err
			}
			extra[hdr.Name] = b
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("package %s: control.tar: %w", name, err)
	}
	sort.Strings(p.Scripts)

	origin := in.prefix + name
	mapped := map[string]string{}  // package path -> tree path
	regs := map[string]*unpacked{} // package path of a regular file or hard link -> its content
	var files []string
	var list []string // package paths, archive order, for info/<pkg>.list
	err = deb.WalkData(func(hdr *tar.Header, body io.Reader) error {
		tp, err := in.place(name, hdr)
		if err != nil {
			return err
		}
		mapped[hdr.Name] = tp
		e := fstree.Entry{Path: tp, UID: hdr.Uid, GID: hdr.Gid, Mode: mode(hdr), Origin: origin}
		var u *unpacked
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.Kind = fstree.Dir
		case tar.TypeReg:
			e.Kind = fstree.File
			if err := in.content(&e, body); err != nil {
				return fmt.Errorf("package %s: %s: %w", name, hdr.Name, err)
			}
			u = &unpacked{file: e}
		case tar.TypeSymlink:
			e.Kind, e.Target, e.Mode = fstree.Symlink, hdr.Linkname, 0o777
		case tar.TypeLink:
			if u = regs[hdr.Linkname]; u == nil || mapped[hdr.Linkname] == "" {
				return fmt.Errorf("package %s: hard link %s -> %s: target not unpacked before it", name, hdr.Name, hdr.Linkname)
			}
			// One inode: the link has the file's mode and owner, whatever its header says.
			e.Mode, e.UID, e.GID = u.file.Mode, u.file.UID, u.file.GID
			if in.opts.Hardlinks && u.at != "" {
				e.Kind, e.Target = fstree.Hardlink, u.at
			} else {
				e.Kind, e.Data, e.Source, e.Size = fstree.File, u.file.Data, u.file.Source, u.file.Size
			}
		default:
			return fmt.Errorf("package %s: %s: unsupported entry type %q", name, hdr.Name, hdr.Typeflag)
		}
		if u != nil {
			regs[hdr.Name] = u
			if tp == "usr/share/doc/"+name+"/copyright" {
				if p.License, err = license(&u.file); err != nil {
					return fmt.Errorf("package %s: %s: %w", name, hdr.Name, err)
				}
			}
		}
		if in.opts.DropDocs && isDoc(tp, name) && !(in.opts.KeepMan && isManual(tp)) {
			return nil
		}
		added, err := in.put(name, e)
		if err != nil {
			return err
		}
		if added && u != nil && u.at == "" {
			u.at = tp // later hard links to this content name this path
		}
		list = append(list, "/"+hdr.Name)
		if added && e.Kind != fstree.Dir {
			files = append(files, tp)
		}
		return nil
	})
	if err != nil {
		var up *debian.UnsafePathError
		if errors.As(err, &up) {
			return nil, &UnsafeEntryError{Package: name, Entry: up.Name, Reason: "leaves the package root"}
		}
		return nil, fmt.Errorf("package %s: %w", name, err)
	}
	sort.Strings(files)
	p.Files = files
	infoName := name
	if ctl.Get("Multi-Arch") == "same" {
		infoName += ":" + p.Architecture // dpkg's info files of Multi-Arch: same packages
	}
	dbOrigin := in.prefix + name
	var lb bytes.Buffer
	lb.WriteString("/.\n")
	for _, l := range list {
		lb.WriteString(l + "\n")
	}
	if err := in.tree.Add(fstree.Entry{Path: "var/lib/dpkg/info/" + infoName + ".list", Kind: fstree.File, Mode: 0o644, Data: lb.Bytes(), Origin: dbOrigin}); err != nil {
		return nil, err
	}
	for _, n := range dpkgCopied {
		if b, ok := extra[n]; ok {
			if err := in.tree.Add(fstree.Entry{Path: "var/lib/dpkg/info/" + infoName + "." + n, Kind: fstree.File, Mode: 0o644, Data: b, Origin: dbOrigin}); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// unpacked is a regular file of the package being installed, as its hard links see it.
type unpacked struct {
	file fstree.Entry // the package's version: content (Data, or Source and Size), mode and owner
	at   string       // the tree path holding it as this package put it; "" while none does (dropped, overridden)
}

// content reads a regular file's body into e: into Data, or into the spool (Source and Size).
func (in *installer) content(e *fstree.Entry, body io.Reader) error {
	if in.opts.Spool == "" {
		b, err := io.ReadAll(body)
		e.Data, e.Size = b, int64(len(b))
		return err
	}
	var err error
	e.Source, e.Size, err = in.spool(body)
	return err
}

// spool copies body into the spool through the one buffer, hashing it on the way, and names the
// file by its SHA-256 (a rename: readers never see a partial file under a digest's name).
func (in *installer) spool(body io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(in.opts.Spool, ".unpack-*")
	if err != nil {
		return "", 0, fmt.Errorf("spool: %w", err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), body, in.buf)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", 0, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dir := filepath.Join(in.opts.Spool, sum[:2])
	if !in.made[dir] {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			os.Remove(tmp.Name())
			return "", 0, fmt.Errorf("spool: %w", err)
		}
		in.made[dir] = true
	}
	dst := filepath.Join(dir, sum)
	if st, err := os.Stat(dst); err == nil && st.Mode().IsRegular() && st.Size() == n {
		os.Remove(tmp.Name()) // this content is there already
		return dst, n, nil
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return "", 0, fmt.Errorf("spool: %w", err)
	}
	return dst, n, nil
}

// spooled says whether a file entry's content is a spool file, named by its digest.
func (in *installer) spooled(e *fstree.Entry) bool {
	return in.opts.Spool != "" && e.Source != "" && strings.HasPrefix(e.Source, in.opts.Spool+string(filepath.Separator))
}

// mode keeps the permission, setuid, setgid and sticky bits of an archive entry.
func mode(hdr *tar.Header) fs.FileMode {
	m := hdr.FileInfo().Mode()
	return m.Perm() | m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
}

// isManual says whether p is a manual page or an info page, or their folder.
func isManual(p string) bool {
	for _, d := range []string{"usr/share/man/", "usr/share/info/"} {
		if p+"/" == d || strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

func isDoc(p, pkg string) bool {
	for _, d := range docDirs {
		if p+"/" == d || strings.HasPrefix(p, d) {
			if d != "usr/share/doc/" {
				return true
			}
			rest := strings.TrimPrefix(p, d)
			return rest != "" && rest != pkg && rest != pkg+"/copyright"
		}
	}
	return false
}

// place maps a package path to its path in the tree: the parent directory is resolved through the
// tree's symlinks (so lib/x86_64-linux-gnu/libc.so.6 lands in usr/lib/...), and must stay inside
// the tree. A relative symlink that climbs above the root, or an absolute symlink, on the way is
// refused: a naive unpacker would follow either out of the image.
func (in *installer) place(pkg string, hdr *tar.Header) (string, error) {
	dir, base := path.Split(hdr.Name)
	parent, err := in.resolve(strings.TrimSuffix(dir, "/"), 0)
	if err != nil {
		return "", &UnsafeEntryError{Package: pkg, Entry: hdr.Name, Reason: err.Error()}
	}
	tp := path.Join(parent, base)
	if hdr.Typeflag == tar.TypeDir {
		// A directory over a symlink to a directory (lib -> usr/lib) keeps the symlink, as dpkg does.
		if e, ok := in.tree.Get(tp); ok && e.Kind == fstree.Symlink {
			r, err := in.resolve(tp, 0)
			if err != nil {
				return "", &UnsafeEntryError{Package: pkg, Entry: hdr.Name, Reason: err.Error()}
			}
			return r, nil
		}
	}
	return tp, nil
}

// resolve follows the symlinks of the tree through every component of p ("" is the root).
func (in *installer) resolve(p string, depth int) (string, error) {
	if p == "" || p == "." {
		return "", nil
	}
	var cur []string
	parts := strings.Split(p, "/")
	for i, part := range parts {
		cur = append(cur, part)
		here := strings.Join(cur, "/")
		e, ok := in.tree.Get(here)
		if !ok || e.Kind != fstree.Symlink {
			continue
		}
		if depth >= maxSymlinks {
			return "", fmt.Errorf("too many levels of symlinks at %s", here)
		}
		if path.IsAbs(e.Target) {
			return "", fmt.Errorf("goes through %s, a symlink to the absolute path %s", here, e.Target)
		}
		joined := path.Join(strings.Join(cur[:len(cur)-1], "/"), e.Target)
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", fmt.Errorf("goes through %s -> %s, which leaves the tree", here, e.Target)
		}
		if joined == "." {
			joined = ""
		}
		rest := strings.Join(parts[i+1:], "/")
		return in.resolve(strings.Trim(joined+"/"+rest, "/"), depth+1)
	}
	return p, nil
}

// put adds e, owned by pkg. It reports whether the entry is now the package's (false when an
// override kept another package's version).
func (in *installer) put(pkg string, e fstree.Entry) (bool, error) {
	old, exists := in.tree.Get(e.Path)
	if e.Kind == fstree.Dir {
		if exists && old.Kind == fstree.Dir {
			if old.Mode != e.Mode || old.UID != e.UID || old.GID != e.GID {
				e.Origin = old.Origin // shared directories keep who made them; the last package's metadata wins, as with dpkg
				return true, in.tree.Replace(e)
			}
			return true, nil
		}
		return true, in.tree.Add(e)
	}
	if !exists {
		if err := in.tree.Add(e); err != nil {
			return false, fmt.Errorf("package %s: %w", pkg, err)
		}
		in.owner[e.Path] = pkg
		in.linked(&e)
		return true, nil
	}
	same, err := in.same(old, &e)
	if err != nil {
		return false, fmt.Errorf("package %s: %s: %w", pkg, e.Path, err)
	}
	if same {
		in.owner[e.Path] = pkg
		return true, nil
	}
	prev, owned := in.owner[e.Path]
	if owned && prev == pkg {
		// The same package twice (dpkg lets the later entry win).
		return true, in.replace(e)
	}
	other := prev
	if !owned {
		other = old.Origin
	}
	switch in.opts.Overrides[e.Path] {
	case pkg:
		in.owner[e.Path] = pkg
		return true, in.replace(e)
	case other:
		return false, nil
	}
	return false, &ConflictError{Path: e.Path, First: other, Second: pkg, Description: "different " + e.Kind.String()}
}

// linked notes a Hardlink entry just added under the path it names.
func (in *installer) linked(e *fstree.Entry) {
	if e.Kind == fstree.Hardlink {
		in.links[e.Target] = append(in.links[e.Target], e.Path)
	}
}

// replace puts e over the entry at its path. Hard links to the file there keep its content, as
// they keep the inode when dpkg renames a new file over the old name: the first becomes the file,
// the others name it.
func (in *installer) replace(e fstree.Entry) error {
	if old, ok := in.tree.Get(e.Path); ok && old.Kind == fstree.File {
		var names []string
		for _, l := range in.links[e.Path] {
			if le, ok := in.tree.Get(l); ok && le.Kind == fstree.Hardlink && le.Target == e.Path && !slices.Contains(names, l) {
				names = append(names, l)
			}
		}
		delete(in.links, e.Path)
		if len(names) > 0 {
			first, _ := in.tree.Get(names[0])
			f := *old
			f.Path, f.Origin = first.Path, first.Origin
			if err := in.tree.Replace(f); err != nil {
				return err
			}
			for _, l := range names[1:] {
				le, _ := in.tree.Get(l)
				moved := *le
				moved.Target = f.Path
				if err := in.tree.Replace(moved); err != nil {
					return err
				}
			}
			in.links[f.Path] = names[1:]
		}
	}
	if err := in.tree.Replace(e); err != nil {
		return err
	}
	in.linked(&e)
	return nil
}

// inode returns the entry whose inode e stands for: e itself, or the file a hard link names.
func (in *installer) inode(e *fstree.Entry) (*fstree.Entry, error) {
	for range maxSymlinks {
		if e.Kind != fstree.Hardlink {
			return e, nil
		}
		t, ok := in.tree.Get(e.Target)
		if !ok {
			return nil, fmt.Errorf("hard link to %s, which is not in the tree", e.Target)
		}
		e = t
	}
	return nil, fmt.Errorf("hard link chain at %s too long", e.Path)
}

// same says whether e changes nothing over old: the same kind, metadata and content, a hard link
// compared as the file it names. Spooled contents compare by digest (their names), others byte
// by byte through a small buffer.
func (in *installer) same(old, e *fstree.Entry) (bool, error) {
	a, err := in.inode(old)
	if err != nil {
		return false, err
	}
	b, err := in.inode(e)
	if err != nil {
		return false, err
	}
	if a.Kind != b.Kind || a.Mode != b.Mode || a.UID != b.UID || a.GID != b.GID || a.Target != b.Target ||
		a.Major != b.Major || a.Minor != b.Minor || !a.MTime.Equal(b.MTime) || len(a.Xattrs) != 0 || len(b.Xattrs) != 0 {
		return false, nil
	}
	if a.Kind != fstree.File || a.Source != "" && a.Source == b.Source {
		return true, nil
	}
	if a.Size != b.Size {
		return false, nil
	}
	if in.spooled(a) && in.spooled(b) {
		return false, nil // different names, different digests
	}
	return equalContent(a, b)
}

// equalContent compares two files' contents in small pieces.
func equalContent(a, b *fstree.Entry) (bool, error) {
	ra, err := a.Open()
	if err != nil {
		return false, err
	}
	defer ra.Close()
	rb, err := b.Open()
	if err != nil {
		return false, err
	}
	defer rb.Close()
	var ba, bb [32 << 10]byte
	for {
		na, erra := io.ReadFull(ra, ba[:])
		nb, errb := io.ReadFull(rb, bb[:])
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		endA := erra == io.EOF || erra == io.ErrUnexpectedEOF
		endB := errb == io.EOF || errb == io.ErrUnexpectedEOF
		switch {
		case erra != nil && !endA:
			return false, erra
		case errb != nil && !endB:
			return false, errb
		case endA || endB:
			return endA && endB, nil
		}
	}
}

// licenseVia reads a package's copyright file through symlinks (usr/share/doc/<pkg> is sometimes a
// link to another package's folder).
func (in *installer) licenseVia(pkg string) string {
	p, err := in.resolve("usr/share/doc/"+pkg+"/copyright", 0)
	if err != nil {
		return "NOASSERTION"
	}
	e, ok := in.tree.Get(p)
	if !ok {
		return "NOASSERTION"
	}
	if e, err = in.inode(e); err != nil || e.Kind != fstree.File {
		return "NOASSERTION"
	}
	l, err := license(e)
	if err != nil {
		return "NOASSERTION"
	}
	return l
}

// license reads the licence from a copyright file entry, streaming.
func license(e *fstree.Entry) (string, error) {
	rc, err := e.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	return licenseFrom(rc)
}

// License returns the first License: field of a machine-readable copyright file (DEP-5,
// https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/), or "see copyright".
func License(copyright []byte) string {
	l, _ := licenseFrom(bytes.NewReader(copyright))
	return l
}

// licenseFrom is License over a reader: it stops at the first License: field.
func licenseFrom(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if !strings.HasPrefix(line, "Format:") {
				return "see copyright", nil
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "License:"); ok {
			if v = strings.TrimSpace(v); v != "" {
				return v, nil
			}
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return "", err
	}
	return "see copyright", nil
}

// writeDatabase writes var/lib/dpkg/status: one paragraph per package, sorted by name, Package
// and Status first, then the control fields in the order the package wrote them (deb-status(5)).
func (in *installer) writeDatabase(pkgs []Package) error {
	sorted := slices.Clone(pkgs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b bytes.Buffer
	for i, p := range sorted {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\n", p.Name)
		for _, f := range p.Control.Fields {
			if strings.EqualFold(f.Name, "Package") || strings.EqualFold(f.Name, "Status") {
				continue
			}
			b.WriteString(f.Name + ":")
			for j, line := range strings.Split(f.Value, "\n") {
				switch {
				case j > 0:
					b.WriteString("\n " + line) // continuation lines start with a space (Policy §5.1)
				case line != "":
					b.WriteString(" " + line)
				}
			}
			b.WriteByte('\n')
		}
	}
	const origin = "debinstall"
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := in.tree.Add(fstree.Entry{Path: d, Kind: fstree.Dir, Mode: 0o755, Origin: origin}); err != nil {
			return err
		}
	}
	return in.tree.Add(fstree.Entry{Path: "var/lib/dpkg/status", Kind: fstree.File, Mode: 0o644, Data: b.Bytes(), Origin: origin})
}
