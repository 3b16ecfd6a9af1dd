// Package recipe reads recipes/<name>.yaml: the named components an edition is made of. Each recipe
// has a kind; the builder has one handler per kind.
package recipe

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/internal/strictyaml"
)

// Kind is what a recipe makes.
type Kind string

const (
	// KindKernel: Debian's signed kernel package; Package names the meta-package whose
	// `linux-image-*` dependency is locked (linux-image-amd64).
	KindKernel Kind = "kernel"
	// KindDebianFiles: named files taken out of Debian packages (boot loaders).
	KindDebianFiles Kind = "debian-files"
	// KindGo: a Go program of this repository, built for the target and installed at Install.
	KindGo Kind = "go"
	// KindGoCShared: a C shared library built from a Go package main of this repository with
	// -buildmode=c-shared, installed at Install, whose base name is its SONAME (lib*.so.N); Links are
	// its linker names (lib*.so), Files the headers and pkg-config files installed with it.
	KindGoCShared Kind = "go-c-shared"
	// KindURoot: u-root commands as one busybox-style binary in Install (a folder), one symlink each.
	KindURoot Kind = "u-root"
	// KindDebianPackages: Debian packages and their dependencies, resolved at lock time and
	// unpacked into the root tree (no maintainer scripts run).
	KindDebianPackages Kind = "debian-packages"
)

// Kinds lists every kind the builder knows.
var Kinds = []Kind{KindKernel, KindDebianFiles, KindGo, KindGoCShared, KindURoot, KindDebianPackages}

// Recipe is one recipes/<name>.yaml.
type Recipe struct {
	Name        string `yaml:"name"`
	Kind        Kind   `yaml:"kind"`
	Description string `yaml:"description"`
	// Package is the Debian package (kernel) or the Go package path (go, e.g. ./initramfs/cmd/x).
	Package string `yaml:"package"`
	// Packages are the Debian packages that Files come from (debian-files).
	Packages []string `yaml:"packages"`
	// Files maps a role (the name the builder asks for, e.g. isolinux.bin) to a path inside one of
	// Packages (debian-files), or a path in the root tree to a file of this repository
	// (go-c-shared: headers, pkg-config files).
	Files map[string]string `yaml:"files"`
	// Install is where the output goes in the root tree (go: a file path; u-root: a folder).
	Install string `yaml:"install"`
	// Links are extra symlinks to the installed file (go), e.g. "init".
	Links []string `yaml:"links"`
	// Commands are u-root commands ("core/ls") for kind u-root.
	Commands []string `yaml:"commands"`
	// Tags are Go build tags (go, u-root).
	Tags []string `yaml:"tags"`
	// Exclude are packages never installed by a debian-packages recipe; dependencies on them count
	// as met. Say why in a comment beside each.
	Exclude []string `yaml:"exclude"`
	// Overrides name, for a path two packages write differently, the package that wins.
	Overrides map[string]string `yaml:"overrides"`
	// Configure tunes how the packages are configured (debian-packages).
	Configure Configure `yaml:"configure"`

	File string `yaml:"-"`
}

// Configure is a debian-packages recipe's configure: section.
type Configure struct {
	// Skip lists, by package, maintainer-script effects the builder leaves undone on purpose, as
	// internal/debconfigure names them ("update-rc.d", "> /etc/hosts", a trigger name). Say why in a
	// comment beside each.
	Skip map[string][]string `yaml:"skip"`
}

// DebianPackages lists the Debian packages the recipe needs locked.
func (r *Recipe) DebianPackages() []string {
	switch r.Kind {
	case KindKernel:
		return []string{r.Package}
	case KindDebianFiles, KindDebianPackages:
		return r.Packages
	}
	return nil
}

// LockDigest is the SHA-256 (hex) of what the recipe asks of the Debian archive: its kind, its
// Debian packages and its exclusions, each list sorted. It is "" for a recipe that asks nothing.
// recipes/debian.lock records it for every recipe it resolved, so a build notices a recipe that
// changed since (a package added, a new exclude). Fields that do not change what is locked
// (description, files, overrides, comments) do not count.
func (r *Recipe) LockDigest() string {
	pkgs := r.DebianPackages()
	if len(pkgs) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kind %s\n", r.Kind)
	for _, p := range sortedCopy(pkgs) {
		fmt.Fprintf(&b, "package %s\n", p)
	}
	for _, x := range sortedCopy(r.Exclude) {
		fmt.Fprintf(&b, "exclude %s\n", x)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func sortedCopy(l []string) []string {
	c := append([]string(nil), l...)
	sort.Strings(c)
	return c
}

// Problems are every problem found in recipe files, each with file:line.
type Problems []string

func (ps Problems) Error() string { return strings.Join(ps, "\n") }

// Load reads recipes/<name>.yaml strictly and checks its fields for its kind.
func Load(dir, name string) (*Recipe, error) {
	path := filepath.Join(dir, name+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no recipe %q: %s does not exist", name, path)
		}
		return nil, err
	}
	var r Recipe
	pos, problems := strictyaml.Decode(data, &r)
	if len(problems) > 0 {
		var ps Problems
		for _, p := range problems {
			ps = append(ps, fmt.Sprintf("%s:%d: %s", path, p.Line, strings.TrimSuffix(p.Msg, " of Recipe")))
		}
		return nil, ps
	}
	line := func(key string) string {
		if l, ok := pos[key]; ok {
			return strconv.Itoa(l)
		}
		return "1"
	}
	var ps Problems
	bad := func(key, msg string) { ps = append(ps, fmt.Sprintf("%s:%s: %s: %s", path, line(key), key, msg)) }
	if r.Name != name {
		bad("name", fmt.Sprintf("%q does not match the file name %q", r.Name, name+".yaml"))
	}
	switch r.Kind {
	case KindKernel:
		if r.Package == "" {
			bad("package", "missing: the kernel meta-package (e.g. linux-image-amd64)")
		}
	case KindDebianFiles:
		if len(r.Packages) == 0 {
			bad("packages", "missing: the Debian packages the files come from")
		}
		if len(r.Files) == 0 {
			bad("files", "missing: role: path-in-package pairs")
		}
	case KindGo:
		if !strings.HasPrefix(r.Package, "./") {
			bad("package", fmt.Sprintf("%q: a Go package of this repository, starting with ./", r.Package))
		}
		if r.Install == "" {
			bad("install", "missing: where the binary goes (e.g. sbin/consciousness-init)")
		}
	case KindGoCShared:
		if !strings.HasPrefix(r.Package, "./") {
			bad("package", fmt.Sprintf("%q: a Go package of this repository, starting with ./", r.Package))
		}
		if b := filepath.Base(r.Install); !strings.HasPrefix(b, "lib") || !strings.Contains(b, ".so.") {
			bad("install", fmt.Sprintf("%q: the library's path, its base name the SONAME (e.g. usr/lib/x86_64-linux-gnu/libx.so.0)", r.Install))
		}
		for dst, src := range r.Files {
			if filepath.IsAbs(dst) || filepath.IsAbs(src) || strings.HasPrefix(filepath.Clean(src), "..") {
				bad("files", fmt.Sprintf("%s: %s: want a relative path in the root tree and one in this repository", dst, src))
			}
		}
	case KindDebianPackages:
		if len(r.Packages) == 0 {
			bad("packages", "missing: the Debian packages to install (their dependencies come along)")
		}
	case KindURoot:
		if len(r.Commands) == 0 {
			bad("commands", "missing: the u-root commands (e.g. core/ls)")
		}
		if r.Install == "" {
			bad("install", "missing: the folder for the binary and its links (e.g. bin)")
		}
	default:
		var ks []string
		for _, k := range Kinds {
			ks = append(ks, string(k))
		}
		bad("kind", fmt.Sprintf("%q is not a recipe kind; known: %s", r.Kind, strings.Join(ks, ", ")))
	}
	if r.Kind != KindDebianPackages && len(r.Configure.Skip) > 0 {
		bad("configure", "only debian-packages recipes configure packages")
	}
	if len(ps) > 0 {
		return nil, ps
	}
	r.File = path
	return &r, nil
}

// LoadAll loads the named recipes; problems of all of them are reported together.
func LoadAll(dir string, names []string) ([]*Recipe, error) {
	var out []*Recipe
	var ps Problems
	for _, n := range names {
		r, err := Load(dir, n)
		if err != nil {
			var rp Problems
			if errors.As(err, &rp) {
				ps = append(ps, rp...)
				continue
			}
			ps = append(ps, err.Error())
			continue
		}
		out = append(out, r)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return out, nil
}

// Names lists the recipes in dir, sorted.
func Names(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range m {
		out = append(out, strings.TrimSuffix(filepath.Base(p), ".yaml"))
	}
	sort.Strings(out)
	return out, nil
}
