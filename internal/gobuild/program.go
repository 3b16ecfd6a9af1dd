package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
)

// ProgramOptions says which Go command of a module to build, and for which architecture.
type ProgramOptions struct {
	ModuleDir string       // the module holding the package (the genai-build checkout)
	Package   string       // a main package, e.g. "./initramfs/cmd/consciousness-init"
	GOARCH    string       // target architecture; GOOS is always linux
	Cache     *cache.Cache // where the binary is kept, keyed by its inputs
	Log       *slog.Logger // optional
	// SONAME, when set, builds a C shared library (-buildmode=c-shared) with this SONAME (e.g.
	// "libgenai-native.so.0") instead of a static program: cgo on, the host's C compiler (go env
	// CC) linking it. The output file is named SONAME. Its bytes depend on that compiler, whose
	// `--version` goes into the key: the same compiler rebuilds the same bytes.
	SONAME string
}

// programStageKind is the internal/cache stage kind of BuildProgram's outputs.
const programStageKind = "go-program"

// programRecipe names this way of building; change it whenever BuildProgram's output for the same
// inputs would change (a new flag, a new layout of the stage folder).
const programRecipe = "go-program/1"

// programBuildFlags make the binary reproducible: no file system paths (-trimpath), no VCS stamp, no
// symbol table or DWARF (-s -w) and an empty build ID, so equal inputs give equal bytes.
var programBuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// buildFlags are programBuildFlags, or for a shared library the same with -buildmode=c-shared and
// the SONAME passed to the C linker (a library without one would be recorded by its file name in
// the programs linked against it).
func buildFlags(opts ProgramOptions) []string {
	if opts.SONAME == "" {
		return programBuildFlags
	}
	return []string{"-trimpath", "-buildvcs=false", "-buildmode=c-shared",
		"-ldflags=-s -w -buildid= -extldflags=-Wl,-soname," + opts.SONAME}
}

// buildEnv is targetEnv, with cgo on for a shared library.
func buildEnv(opts ProgramOptions) []string {
	if opts.SONAME == "" {
		return targetEnv(opts.GOARCH)
	}
	return targetEnv(opts.GOARCH, "CGO_ENABLED=1")
}

// cCompiler identifies the C compiler cgo will use: `go env CC` and its `--version`.
func cCompiler(ctx context.Context, dir string, env []string) ([]string, error) {
	out, err := runGo(ctx, dir, env, "env", "CC")
	if err != nil {
		return nil, err
	}
	cc := strings.TrimSpace(string(out))
	if cc == "" {
		return nil, errors.New("go env CC is empty: a C shared library needs a C compiler")
	}
	fields := strings.Fields(cc) // CC may carry flags ("gcc -m64")
	cmd := exec.CommandContext(ctx, fields[0], append(fields[1:], "--version")...)
	cmd.Env = env
	ver, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("C compiler %q (needed for a C shared library; install gcc): %w", cc, err)
	}
	return []string{"CC=" + cc, "CC --version=" + string(ver)}, nil
}

// goBuilds counts the `go build` runs of BuildProgram, so tests can tell a cache hit from a build.
var goBuilds atomic.Int64

// BuildProgram builds a static linux/GOARCH binary of opts.Package (CGO_ENABLED=0) and returns its
// path inside the cache. The build is skipped when the cache holds a binary built from the same
// toolchain, flags, go.mod, go.sum and source files of every package of the module it uses.
func BuildProgram(ctx context.Context, opts ProgramOptions) (binPath string, err error) {
	if opts.Cache == nil {
		return "", errors.New("build go program: no cache given")
	}
	if err := validGOARCH(opts.GOARCH); err != nil {
		return "", fmt.Errorf("build %s: %w", opts.Package, err)
	}
	log := logger(opts.Log)
	moduleDir, err := filepath.Abs(opts.ModuleDir)
	if err != nil {
		return "", err
	}
	opts.ModuleDir = moduleDir

	start := time.Now()
	in, err := programInputs(ctx, opts)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", opts.Package, err)
	}
	log.Debug("go program key", "package", in.importPath, "goarch", opts.GOARCH, "key", in.key, "took", time.Since(start))
	bin := path.Base(in.importPath)
	if opts.SONAME != "" {
		bin = opts.SONAME
	}

	if dir, err := opts.Cache.Stage(programStageKind, in.key); err == nil {
		p := filepath.Join(dir, bin)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("build %s: cached stage is damaged: %w", opts.Package, err)
		}
		log.Debug("go program cached", "package", in.importPath, "path", p)
		return p, nil
	} else if !errors.Is(err, cache.ErrMissing) {
		return "", fmt.Errorf("build %s: %w", opts.Package, err)
	}

	log.Info("building go program", "package", in.importPath, "goarch", opts.GOARCH)
	dir, err := opts.Cache.CommitStage(programStageKind, in.key, func(dir string) error {
		start := time.Now()
		goBuilds.Add(1)
		args := append([]string{"build", "-o", filepath.Join(dir, bin)}, buildFlags(opts)...)
		args = append(args, in.importPath)
		if _, err := runGo(ctx, opts.ModuleDir, buildEnv(opts), args...); err != nil {
			return err
		}
		// A source edited while the compiler ran would file the binary under the wrong key.
		after, err := programInputs(ctx, opts)
		if err != nil {
			return err
		}
		if after.key != in.key {
			return errors.New("sources changed during the build; run it again")
		}
		log.Debug("go program built", "package", in.importPath, "took", time.Since(start))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("build %s: %w", opts.Package, err)
	}
	return filepath.Join(dir, bin), nil
}

// listedPackage is the part of `go list -json` output the key needs.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	Module     *struct {
		Main    bool
		Replace *struct{ Version string }
	}
	GoFiles, CgoFiles, CFiles, SFiles, HFiles, SysoFiles, EmbedFiles []string
	Error                                                            *struct{ Err string }
}

// local says whether the package's sources are not pinned by go.sum: the main module and modules
// replaced by a local folder.
func (p *listedPackage) local() bool {
	if p.Standard {
		return false
	}
	return p.Module == nil || p.Module.Main || (p.Module.Replace != nil && p.Module.Replace.Version == "")
}

type programInput struct {
	importPath string
	key        string
}

// programInputs computes the cache key of a program: the toolchain, the target, the build flags,
// the module's go.mod and go.sum (which pin every outside dependency), and the content of every
// file that goes into the compilation of each local package the program imports. The toolchain and
// the package list are asked for in parallel, the two `go` runs being most of the time.
func programInputs(ctx context.Context, opts ProgramOptions) (*programInput, error) {
	env := buildEnv(opts)
	type tcResult struct {
		tc  *toolchain
		err error
	}
	tcc := make(chan tcResult, 1)
	go func() {
		tc, err := goEnv(ctx, opts.ModuleDir, env)
		tcc <- tcResult{tc, err}
	}()
	out, listErr := runGo(ctx, opts.ModuleDir, env, "list", "-deps",
		"-json=ImportPath,Name,Dir,Standard,Module,GoFiles,CgoFiles,CFiles,SFiles,HFiles,SysoFiles,EmbedFiles,Error",
		"--", opts.Package)
	tcr := <-tcc
	if listErr != nil {
		return nil, listErr
	}
	if tcr.err != nil {
		return nil, tcr.err
	}

	var pkgs []*listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		p := new(listedPackage)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, errors.New("go list found no package")
	}
	// -deps lists dependencies first, the package asked for last.
	root := pkgs[len(pkgs)-1]
	if root.Name != "main" {
		return nil, fmt.Errorf("%s is package %s, not a command (package main)", root.ImportPath, root.Name)
	}
	if !root.local() {
		return nil, fmt.Errorf("%s is not in the module at %s", root.ImportPath, opts.ModuleDir)
	}

	parts := []string{programRecipe}
	parts = append(parts, tcr.tc.keyParts()...)
	if opts.SONAME == "" {
		parts = append(parts, "GOOS=linux", "GOARCH="+opts.GOARCH, "CGO_ENABLED=0")
	} else {
		cc, err := cCompiler(ctx, opts.ModuleDir, env)
		if err != nil {
			return nil, err
		}
		parts = append(parts, "GOOS=linux", "GOARCH="+opts.GOARCH, "CGO_ENABLED=1", "SONAME="+opts.SONAME)
		parts = append(parts, cc...)
	}
	parts = append(parts, buildFlags(opts)...)
	parts = append(parts, "package="+root.ImportPath)
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(opts.ModuleDir, name))
		if err != nil && !(name == "go.sum" && errors.Is(err, fs.ErrNotExist)) {
			return nil, err
		}
		parts = append(parts, name, string(b))
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	for _, p := range pkgs {
		if !p.local() {
			continue
		}
		var files []string
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.SFiles, p.HFiles, p.SysoFiles, p.EmbedFiles} {
			files = append(files, list...)
		}
		sort.Strings(files)
		parts = append(parts, "package "+p.ImportPath)
		for _, f := range files {
			sum, err := fileSHA256(filepath.Join(p.Dir, f))
			if err != nil {
				return nil, err
			}
			parts = append(parts, f, sum)
		}
	}
	return &programInput{importPath: root.ImportPath, key: cache.Key(parts...)}, nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
