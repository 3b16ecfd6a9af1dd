package gobuild

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/u-root/gobusybox/src/pkg/bb"
	"github.com/u-root/gobusybox/src/pkg/bb/findpkg"
	"github.com/u-root/gobusybox/src/pkg/golang"

	"github.com/genai-os/genai-build/internal/cache"
)

// URootModule is the module whose commands BuildURoot builds; its version is the one ModuleDir's
// go.mod requires, verified by its go.sum.
const URootModule = "github.com/u-root/u-root"

const urootCmdsPrefix = URootModule + "/cmds/"

// urootStageKind is the internal/cache stage kind of BuildURoot's outputs.
const urootStageKind = "u-root-bb"

// urootRecipe names this way of building the busybox; change it whenever the output for the same
// inputs would change (gobusybox's version, a flag, the stage layout).
const urootRecipe = "u-root-bb/1 gobusybox/src@v0.0.0-20250101170133-2e884e4509c7"

// urootBuildFlags are gobusybox's own defaults for a reproducible busybox: no paths (-trimpath), no
// symbols or DWARF and an empty build ID (-ldflags), and no inlining (-l), which makes it smaller.
var urootBuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-gcflags=all=-l"}

// busyboxBuilds counts BuildURoot's builds, so tests can tell a cache hit from a build.
var busyboxBuilds atomic.Int64

// urootBinary is the busybox's file name in the stage folder.
const urootBinary = "bb"

// URootOptions says which u-root commands go into the busybox, and for which architecture.
type URootOptions struct {
	ModuleDir string           // the genai-build checkout, whose go.mod pins u-root
	Commands  []string         // "core/ls" (under u-root's cmds/) or "github.com/u-root/u-root/cmds/core/ls"
	GOARCH    string           // target architecture; GOOS is always linux
	Cache     *cache.Cache     // where the binary is kept, keyed by its inputs
	Log       *slog.Logger     // optional
	Progress  func(msg string) // optional; told about the slow steps
	// Tags are Go build tags for every command, e.g. goshliner: gosh's plain line editor, which
	// works on any serial terminal, instead of one that queries the terminal.
	Tags []string
}

// URootResult is a built busybox and the names it answers to (as argv[0] or as its first argument).
type URootResult struct {
	Binary   string   // path of the binary inside the cache
	Commands []string // sorted command names (the base of each package path), for /bin/<name> -> bb
}

// BuildURoot builds opts.Commands into one busybox-style binary with gobusybox, the way u-root's
// `bb` does: each command's main package is rewritten into an ordinary package and one main
// dispatches on argv[0]. The rewritten sources go to a temporary folder (the module cache stays
// read-only) and are compiled in GOPATH mode with CGO_ENABLED=0 for linux/GOARCH. The result is
// cached by the u-root version and go.sum line, the command list, the toolchain and the target.
func BuildURoot(ctx context.Context, opts URootOptions) (URootResult, error) {
	if opts.Cache == nil {
		return URootResult{}, errors.New("build u-root: no cache given")
	}
	if err := validGOARCH(opts.GOARCH); err != nil {
		return URootResult{}, fmt.Errorf("build u-root: %w", err)
	}
	log := logger(opts.Log)
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	pkgs, names, err := urootPackages(opts.Commands)
	if err != nil {
		return URootResult{}, fmt.Errorf("build u-root: %w", err)
	}
	moduleDir, err := filepath.Abs(opts.ModuleDir)
	if err != nil {
		return URootResult{}, err
	}

	start := time.Now()
	mod, err := urootModule(ctx, moduleDir)
	if err != nil {
		return URootResult{}, fmt.Errorf("build u-root: %w", err)
	}
	// The compile runs in GOPATH mode, outside any module, so ask that toolchain.
	tc, err := goEnv(ctx, os.TempDir(), targetEnv(opts.GOARCH, "GO111MODULE=off"))
	if err != nil {
		return URootResult{}, fmt.Errorf("build u-root: %w", err)
	}
	parts := []string{urootRecipe, "u-root " + mod.Version}
	parts = append(parts, mod.sums...)
	parts = append(parts, tc.keyParts()...)
	parts = append(parts, "GOOS=linux", "GOARCH="+opts.GOARCH, "CGO_ENABLED=0")
	parts = append(parts, urootBuildFlags...)
	parts = append(parts, "tags", strings.Join(opts.Tags, ","))
	parts = append(parts, "commands")
	parts = append(parts, pkgs...)
	key := cache.Key(parts...)
	log.Debug("u-root key", "version", mod.Version, "goarch", opts.GOARCH, "commands", len(pkgs), "key", key, "took", time.Since(start))

	res := URootResult{Commands: names}
	if dir, err := opts.Cache.Stage(urootStageKind, key); err == nil {
		res.Binary = filepath.Join(dir, urootBinary)
		if _, err := os.Stat(res.Binary); err != nil {
			return URootResult{}, fmt.Errorf("build u-root: cached stage is damaged: %w", err)
		}
		return res, nil
	} else if !errors.Is(err, cache.ErrMissing) {
		return URootResult{}, fmt.Errorf("build u-root: %w", err)
	}

	dir, err := opts.Cache.CommitStage(urootStageKind, key, func(dir string) error {
		return buildBusybox(ctx, busyboxJob{
			urootDir: mod.Dir,
			pkgs:     pkgs,
			goarch:   opts.GOARCH,
			tags:     opts.Tags,
			goroot:   tc.Root,
			out:      filepath.Join(dir, urootBinary),
			log:      log,
			progress: progress,
		})
	})
	if err != nil {
		return URootResult{}, fmt.Errorf("build u-root %s: %w", mod.Version, err)
	}
	res.Binary = filepath.Join(dir, urootBinary)
	return res, nil
}

// urootPackages turns the command names into sorted, unique u-root import paths and their names.
func urootPackages(commands []string) (pkgs, names []string, err error) {
	if len(commands) == 0 {
		return nil, nil, errors.New("no commands given")
	}
	seen := map[string]string{} // name -> package
	for _, c := range commands {
		p := c
		if !strings.HasPrefix(p, urootCmdsPrefix) {
			p = urootCmdsPrefix + c
		}
		rel := strings.TrimPrefix(p, urootCmdsPrefix)
		// No globs, "..." or exclusions: the key is the list of packages, so it must be explicit.
		if c == "" || path.Clean(rel) != rel || strings.HasPrefix(rel, ".") || strings.ContainsAny(rel, "*?[\\ ") || strings.Contains(rel, "...") || strings.Count(rel, "/") != 1 {
			return nil, nil, fmt.Errorf("command %q: want <set>/<name> under %s, like core/ls", c, urootCmdsPrefix)
		}
		name := path.Base(p)
		if other, ok := seen[name]; ok {
			if other == p {
				continue
			}
			return nil, nil, fmt.Errorf("two commands named %s: %s and %s", name, other, p)
		}
		seen[name] = p
		pkgs = append(pkgs, p)
		names = append(names, name)
	}
	sort.Strings(pkgs)
	sort.Strings(names)
	return pkgs, names, nil
}

type urootMod struct {
	Version string
	Dir     string
	sums    []string // the go.sum lines of this version (module and go.mod hashes)
}

// urootModule asks the go command in moduleDir which u-root version is required and where it is
// unpacked (downloading it into the module cache if needed, checked against go.sum), and returns
// the go.sum lines that pin it.
func urootModule(ctx context.Context, moduleDir string) (*urootMod, error) {
	out, err := runGo(ctx, moduleDir, targetEnv("amd64"), "list", "-m", "-json", URootModule)
	if err != nil {
		return nil, err
	}
	var m struct {
		Version string
		Dir     string
		Replace *struct{ Path string }
		Error   *struct{ Err string }
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("go list -m %s: %w", URootModule, err)
	}
	switch {
	case m.Error != nil:
		return nil, fmt.Errorf("%s: %s", URootModule, m.Error.Err)
	case m.Replace != nil:
		return nil, fmt.Errorf("%s is replaced by %s in go.mod; only a pinned version can be cached", URootModule, m.Replace.Path)
	case m.Version == "" || m.Dir == "":
		return nil, fmt.Errorf("%s: go list -m gave no version or folder", URootModule)
	}
	sums, err := goSumLines(filepath.Join(moduleDir, "go.sum"), URootModule, m.Version)
	if err != nil {
		return nil, err
	}
	return &urootMod{Version: m.Version, Dir: m.Dir, sums: sums}, nil
}

// goSumLines returns the go.sum lines of module@version; both the tree hash and the go.mod hash
// must be there, as `go mod download` verifies both.
func goSumLines(goSum, module, version string) ([]string, error) {
	f, err := os.Open(goSum)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	var tree, gomod bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[0] != module {
			continue
		}
		switch fields[1] {
		case version:
			tree = true
		case version + "/go.mod":
			gomod = true
		default:
			continue
		}
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", goSum, err)
	}
	if !tree || !gomod {
		return nil, fmt.Errorf("%s: no hashes for %s %s (run go mod download %s)", goSum, module, version, module)
	}
	sort.Strings(lines)
	return lines, nil
}

type busyboxJob struct {
	urootDir string   // the u-root module in the module cache (read-only)
	pkgs     []string // sorted import paths of the commands
	goarch   string
	tags     []string // Go build tags
	goroot   string
	out      string // the binary to write
	log      *slog.Logger
	progress func(string)
}

// buildBusybox generates the busybox sources with gobusybox into a temporary GOPATH and compiles
// them there. The command lookup runs in the u-root module, which holds the commands' packages and
// whose go.mod and go.sum choose their dependencies.
func buildBusybox(ctx context.Context, j busyboxJob) error {
	busyboxBuilds.Add(1)
	env := targetEnv(j.goarch)
	if err := checkCommands(ctx, j.urootDir, env, j.pkgs); err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "genai-build-bb-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	gopath := filepath.Join(tmp, "gopath") // must not exist yet: gobusybox wants it empty

	// Folder paths rather than import paths, so gobusybox never looks relative to our working
	// directory or at $GBB_PATH / $UROOT_SOURCE.
	var dirs []string
	for _, p := range j.pkgs {
		dirs = append(dirs, filepath.Join(j.urootDir, "cmds", filepath.FromSlash(strings.TrimPrefix(p, urootCmdsPrefix))))
	}
	genv := golang.Default(
		golang.WithGOOS("linux"),
		golang.WithGOARCH(j.goarch),
		golang.DisableCGO(),
		golang.WithGOROOT(j.goroot),
		golang.WithGO111MODULE("on"),
		golang.WithMod(golang.ModReadonly),
		golang.WithWorkingDir(j.urootDir),
	)
	genv.BuildTags = j.tags
	genv.GBBDEBUG = false

	j.progress(fmt.Sprintf("generating u-root busybox sources (%d commands)…", len(j.pkgs)))
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return err
	}
	err = bb.BuildBusybox(ulogger{j.log}, &bb.Opts{
		Env:          genv,
		LookupEnv:    &findpkg.Env{},
		GenSrcDir:    gopath,
		CommandPaths: dirs,
		GenerateOnly: true,
	})
	if err != nil {
		return fmt.Errorf("gobusybox: %w", err)
	}
	j.log.Debug("u-root busybox sources generated", "took", time.Since(start))

	j.progress("building u-root busybox (about a minute)…")
	start = time.Now()
	args := append([]string{"build", "-o", j.out}, urootBuildFlags...)
	if len(j.tags) > 0 {
		args = append(args, "-tags", strings.Join(j.tags, ","))
	}
	args = append(args, ".")
	bbDir := filepath.Join(gopath, "src", "bb.u-root.com", "bb")
	buildEnv := targetEnv(j.goarch, "GO111MODULE=off", "GOPATH="+gopath, "GOROOT="+j.goroot, "GOTOOLCHAIN=local")
	if _, err := runGoBin(ctx, filepath.Join(j.goroot, "bin", "go"), bbDir, buildEnv, args...); err != nil {
		return err
	}
	j.log.Debug("u-root busybox built", "took", time.Since(start))
	return nil
}

// checkCommands fails unless every package is a command with files for linux/GOARCH: gobusybox
// would skip it with only a log line, and /bin/<name> would point at nothing.
func checkCommands(ctx context.Context, urootDir string, env []string, pkgs []string) error {
	out, err := runGo(ctx, urootDir, env, append([]string{"list", "-e", "-mod=readonly", "-f", "{{.ImportPath}} {{.Name}} {{len .GoFiles}}{{with .Error}} {{.Err}}{{end}}", "--"}, pkgs...)...)
	if err != nil {
		return err
	}
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "main" || f[2] == "0" {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("not u-root commands for this target:\n%s", strings.Join(problems, "\n"))
	}
	return nil
}

// ulogger hands gobusybox's messages to slog at debug level.
type ulogger struct{ l *slog.Logger }

func (u ulogger) Printf(format string, v ...any) {
	u.l.Debug(fmt.Sprintf(format, v...), "from", "gobusybox")
}
