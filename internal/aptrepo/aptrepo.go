// Package aptrepo writes a signed APT repository of binary packages, laid out as Debian's archive
// is (the DebianRepository/Format page of the Debian wiki: "Flat" is not used):
//
//	genai-os-archive-keyring.gpg                      the public key (binary), for signed-by=
//	pool/main/<p>/<package>/<package>_<version>_<arch>.deb
//	dists/<suite>/main/binary-<arch>/Packages(.gz)
//	dists/<suite>/Release, InRelease (clearsigned), Release.gpg (detached)
//
// The repository is written to a temporary folder beside the target and renamed into place, and
// it is the same bytes for the same packages, key and date.
package aptrepo

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/internal/debpack"
	"github.com/genai-os/genai-build/internal/sign"
)

// KeyringName is the public key's file name at the top of the repository (Debian's convention:
// <origin>-archive-keyring.gpg, installed under /usr/share/keyrings/).
const KeyringName = "genai-os-archive-keyring.gpg"

// Options describe the repository.
type Options struct {
	Out        string    // the repository folder; replaced whole
	Suite      string    // e.g. "stable"; also the Codename and the dists/ folder name
	Origin     string    // Release's Origin and Label, e.g. "GenAI OS"
	Component  string    // "main"
	Arch       string    // "amd64"
	SourceDate time.Time // the Release's Date and the signatures' time
	Key        *sign.Key // the release key
}

// Result says what was written.
type Result struct {
	Dir         string   // Options.Out
	Debs        []string // paths of the .debs relative to Dir, sorted
	Fingerprint string   // the signing key's
}

func (o *Options) check() error {
	var errs []error
	if o.Out == "" {
		errs = append(errs, errors.New("no output folder"))
	}
	for name, v := range map[string]string{"suite": o.Suite, "component": o.Component, "architecture": o.Arch} {
		if v == "" || strings.ContainsAny(v, "/ \n") || v == "." || v == ".." {
			errs = append(errs, fmt.Errorf("%s %q: one word, no '/'", name, v))
		}
	}
	if o.Origin == "" || strings.Contains(o.Origin, "\n") {
		errs = append(errs, fmt.Errorf("origin %q: one line", o.Origin))
	}
	if o.SourceDate.IsZero() {
		errs = append(errs, errors.New("no source date"))
	}
	if o.Key == nil {
		errs = append(errs, errors.New("no release key"))
	}
	return errors.Join(errs...)
}

// PoolPath is a package's path in the pool: pool/<component>/<prefix>/<source>/<file>, where the
// prefix is the name's first letter, or its first four for lib* (Debian's pool layout).
func PoolPath(component string, p *debpack.Package) string {
	name := p.Control.Package
	prefix := name[:1]
	if strings.HasPrefix(name, "lib") && len(name) > 3 {
		prefix = name[:4]
	}
	return path.Join("pool", component, prefix, name, p.Filename())
}

// Write writes the repository of pkgs to o.Out: it builds it in a temporary folder beside o.Out
// and renames it into place (exchanging it with an existing folder, which is then removed), so a
// reader sees the old repository or the new one, never a mix.
func Write(o Options, pkgs []*debpack.Package) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("apt repository: %w", err)
	}
	files, debs, err := Files(o, pkgs)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("apt repository: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("apt repository: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeTree(tmp, files); err != nil {
		return nil, fmt.Errorf("apt repository: %w", err)
	}
	if err := replaceDir(tmp, out); err != nil {
		return nil, fmt.Errorf("apt repository: %w", err)
	}
	done = true
	return &Result{Dir: o.Out, Debs: debs, Fingerprint: o.Key.Fingerprint()}, nil
}

// Files returns every file of the repository (path relative to its root -> content) and the .debs'
// paths, sorted; Write writes them.
func Files(o Options, pkgs []*debpack.Package) (map[string][]byte, []string, error) {
	if err := o.check(); err != nil {
		return nil, nil, fmt.Errorf("apt repository: %w", err)
	}
	sorted := append([]*debpack.Package(nil), pkgs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Control.Package < sorted[j].Control.Package })
	files := map[string][]byte{}
	var debs []string
	seen := map[string]bool{}
	for _, p := range sorted {
		if seen[p.Control.Package] {
			return nil, nil, fmt.Errorf("apt repository: package %s given twice", p.Control.Package)
		}
		seen[p.Control.Package] = true
		if p.Control.Architecture != o.Arch && p.Control.Architecture != "all" {
			return nil, nil, fmt.Errorf("apt repository: package %s is for %s, the repository for %s", p.Control.Package, p.Control.Architecture, o.Arch)
		}
		pp := PoolPath(o.Component, p)
		files[pp] = p.Deb
		debs = append(debs, pp)
	}
	packages := Packages(o.Component, sorted)
	gz, err := gzipBytes(packages)
	if err != nil {
		return nil, nil, err
	}
	index := o.Component + "/binary-" + o.Arch + "/"
	dist := "dists/" + o.Suite + "/"
	files[dist+index+"Packages"] = packages
	files[dist+index+"Packages.gz"] = gz

	release := Release(o, map[string][]byte{index + "Packages": packages, index + "Packages.gz": gz})
	inRelease, err := o.Key.Clearsign(release, o.SourceDate)
	if err != nil {
		return nil, nil, fmt.Errorf("apt repository: InRelease: %w", err)
	}
	detached, err := o.Key.DetachSign(bytes.NewReader(release), o.SourceDate)
	if err != nil {
		return nil, nil, fmt.Errorf("apt repository: Release.gpg: %w", err)
	}
	keyring, err := o.Key.Public()
	if err != nil {
		return nil, nil, fmt.Errorf("apt repository: public key: %w", err)
	}
	files[dist+"Release"] = release
	files[dist+"InRelease"] = inRelease
	files[dist+"Release.gpg"] = detached
	files[KeyringName] = keyring
	return files, debs, nil
}

// Packages is the binary package index (DebianRepository/Format, "Packages Indices"): each
// package's control paragraph followed by Filename, Size, MD5sum and SHA256, one stanza per
// package, in the order given.
func Packages(component string, pkgs []*debpack.Package) []byte {
	var b bytes.Buffer
	for i, p := range pkgs {
		if i > 0 {
			b.WriteString("\n")
		}
		md := md5.Sum(p.Deb)
		sum := sha256.Sum256(p.Deb)
		for _, f := range p.Control.Fields() {
			fmt.Fprintf(&b, "%s: %s\n", f[0], f[1])
		}
		fmt.Fprintf(&b, "Filename: %s\nSize: %d\nMD5sum: %s\nSHA256: %s\n", PoolPath(component, p), len(p.Deb),
			hex.EncodeToString(md[:]), hex.EncodeToString(sum[:]))
	}
	return b.Bytes()
}

// Release is the suite's Release file (DebianRepository/Format, "Release files"): Origin, Label,
// Suite, Codename, Date (RFC 2822 in UTC), Architectures, Components, Description, and the SHA256
// of each index (relative to dists/<suite>/) with its size, sorted by path.
func Release(o Options, indices map[string][]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\n", o.Origin, o.Origin, o.Suite, o.Suite)
	fmt.Fprintf(&b, "Date: %s\n", o.SourceDate.UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC"))
	fmt.Fprintf(&b, "Architectures: %s\nComponents: %s\n", o.Arch, o.Component)
	fmt.Fprintf(&b, "Description: %s packages\n", o.Origin)
	names := make([]string, 0, len(indices))
	for n := range indices {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("SHA256:\n")
	for _, n := range names {
		sum := sha256.Sum256(indices[n])
		fmt.Fprintf(&b, " %s %8d %s\n", hex.EncodeToString(sum[:]), len(indices[n]), n)
	}
	return b.Bytes()
}

// gzipBytes compresses data with no name and no time in the header (RFC 1952), so it is
// reproducible.
func gzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeTree writes files under dir (folders 0755, files 0644, whatever the umask), each synced.
func writeTree(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := writeFile(p, files[n]); err != nil {
			return err
		}
	}
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if fi.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
}

func writeFile(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replaceDir puts the folder tmp at out: a rename when out does not exist; otherwise an atomic
// exchange (renameat2(2) RENAME_EXCHANGE), after which the old tree, now at tmp, is removed.
func replaceDir(tmp, out string) error {
	if _, err := os.Lstat(out); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, out)
	} else if err != nil {
		return err
	}
	if fi, err := os.Stat(out); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a folder; remove it or choose another --out", out)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, out, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("replace %s: %w", out, err)
	}
	return os.RemoveAll(tmp)
}
