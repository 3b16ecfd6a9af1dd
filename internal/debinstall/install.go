// Package debinstall unpacks Debian binary packages into an image's file tree, in Go, without root
// and without running anything: what dpkg --unpack does, plus the /var/lib/dpkg database so that
// `dpkg -l` inside the image lists what is installed. Maintainer scripts are not run; Install says
// which packages have them so the builder can do their work from data or report it.
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
}

// Install unpacks debs, in order, into tree: the usr-merge symlinks first, then each package's
// data.tar with its modes, owners (numeric, from the archive), directories and symlinks (hard links
// become copies), then var/lib/dpkg/status and var/lib/dpkg/info/<pkg>.list. A package path that
// leaves the tree, directly or through a symlink, is an *UnsafeEntryError; two packages writing
// one path differently a *ConflictError unless opts.Overrides names the winner.
func Install(tree *fstree.Tree, debs []Deb, opts Options) (*Installed, error) {
	in := &installer{tree: tree, opts: opts, owner: map[string]string{}, prefix: opts.OriginPrefix}
	if in.prefix == "" {
		in.prefix = "deb:"
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
	mapped := map[string]string{} // package path -> tree path, for hard links
	var files []string
	var list []string // package paths, archive order, for info/<pkg>.list
	err = deb.WalkData(func(hdr *tar.Header, body io.Reader) error {
		tp, err := in.place(name, hdr)
		if err != nil {
			return err
		}
		mapped[hdr.Name] = tp
		e := fstree.Entry{Path: tp, UID: hdr.Uid, GID: hdr.Gid, Mode: mode(hdr), Origin: origin}
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.Kind = fstree.Dir
		case tar.TypeReg:
			e.Kind = fstree.File
			if e.Data, err = io.ReadAll(body); err != nil {
				return fmt.Errorf("package %s: %s: %w", name, hdr.Name, err)
			}
		case tar.TypeSymlink:
			e.Kind, e.Target, e.Mode = fstree.Symlink, hdr.Linkname, 0o777
		case tar.TypeLink:
			src, ok := in.tree.Get(mapped[hdr.Linkname])
			if !ok || src.Kind != fstree.File || mapped[hdr.Linkname] == "" {
				return fmt.Errorf("package %s: hard link %s -> %s: target not unpacked before it", name, hdr.Name, hdr.Linkname)
			}
			e.Kind = fstree.File
			if e.Data, err = src.ReadAll(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("package %s: %s: unsupported entry type %q", name, hdr.Name, hdr.Typeflag)
		}
		if tp == "usr/share/doc/"+name+"/copyright" && e.Kind == fstree.File {
			p.License = License(e.Data)
		}
		if in.opts.DropDocs && isDoc(tp, name) && !(in.opts.KeepMan && isManual(tp)) {
			return nil
		}
		added, err := in.put(name, e)
		if err != nil {
			return err
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
	prev, owned := in.owner[e.Path]
	err := in.tree.Add(e)
	if err == nil {
		in.owner[e.Path] = pkg
		return true, nil
	}
	var ce *fstree.ConflictError
	if !errors.As(err, &ce) || !exists {
		return false, fmt.Errorf("package %s: %w", pkg, err)
	}
	if owned && prev == pkg {
		// The same package twice (dpkg lets the later entry win).
		return true, in.tree.Replace(e)
	}
	other := prev
	if !owned {
		other = old.Origin
	}
	switch in.opts.Overrides[e.Path] {
	case pkg:
		in.owner[e.Path] = pkg
		return true, in.tree.Replace(e)
	case other:
		return false, nil
	}
	return false, &ConflictError{Path: e.Path, First: other, Second: pkg, Description: ce.Description}
}

// licenseVia reads a package's copyright file through symlinks (usr/share/doc/<pkg> is sometimes a
// link to another package's folder).
func (in *installer) licenseVia(pkg string) string {
	p, err := in.resolve("usr/share/doc/"+pkg+"/copyright", 0)
	if err != nil {
		return "NOASSERTION"
	}
	e, ok := in.tree.Get(p)
	if !ok || e.Kind != fstree.File {
		return "NOASSERTION"
	}
	b, err := e.ReadAll()
	if err != nil {
		return "NOASSERTION"
	}
	return License(b)
}

// License returns the first License: field of a machine-readable copyright file (DEP-5,
// https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/), or "see copyright".
func License(copyright []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(copyright))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if !strings.HasPrefix(line, "Format:") {
				return "see copyright"
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "License:"); ok {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return "see copyright"
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
