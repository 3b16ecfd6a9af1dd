// Package cli is genai-build's command line: one file per verb, each a thin layer that parses flags,
// calls the library packages and decides what the user sees.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/ocicache"
)

// Env is everything the CLI takes from the process, so tests can drive it in-process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// globals are the flags every verb has.
type globals struct {
	root     string
	cacheDir string
	remote   string // --cache-remote
	verbose  bool
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, env Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	cmd := newRoot(env)
	cmd.SetArgs(args)
	cmd.SetIn(env.Stdin)
	cmd.SetOut(env.Stdout)
	cmd.SetErr(env.Stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		var ec *exitCodeError
		if errors.As(err, &ec) {
			fmt.Fprintf(env.Stderr, "genai-build: %s\n", ec.msg)
			return ec.code
		}
		fmt.Fprintf(env.Stderr, "genai-build: %s\n", indentError(err))
		return 1
	}
	return 0
}

// exitCodeError ends the command with an exit code other than 1 (which means: it failed), for
// answers a script acts on, such as `lock --check` finding updates.
type exitCodeError struct {
	code int
	msg  string
}

func (e *exitCodeError) Error() string { return e.msg }

// indentError puts each line of a multi-line error (every manifest problem) on its own line.
func indentError(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  ")
}

func newRoot(env Env) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "genai-build",
		Short: "Build, inspect and boot GenAI OS images",
		Long: `genai-build turns an edition manifest (editions/<name>.yaml) into a bootable image:
Debian's signed stock kernel, fetched and verified from the Debian archive, the Go PID-1 init
consciousness-init, u-root's core tools and the edition's overlays, packed into a hybrid ISO that
boots from CD and USB, on legacy BIOS and UEFI, with Secure Boot. No root, Docker or host image
tools are needed.`,
		Example: `  genai-build editions
  genai-build iso --edition server
  genai-build boot --edition server --firmware uefi --media usb
  genai-build inspect images/genai-os-server-0.1.0-amd64.iso`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.root, "root", "", "the genai-build checkout (default: found from the current folder upwards)")
	root.PersistentFlags().StringVar(&g.cacheDir, "cache-dir", "", "download and build cache (default: $GENAI_BUILD_CACHE, else $XDG_CACHE_HOME/genai-build)")
	root.PersistentFlags().StringVar(&g.remote, "cache-remote", "", "a shared second cache level in an OCI registry, `oci://HOST[:PORT]/REPO` (default: $"+ocicache.EnvVar+"); credentials from the Docker config")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log every step in detail")
	root.AddCommand(newISO(env, g), newImage(env, g), newBoot(env, g), newEditions(env, g), newInspect(env, g), newLock(env, g), newRepo(env, g), newVersion(env))
	root.AddCommand(newRelease(env, g), newVerify(env, g), newReleaseKey(env, g), newKeys(env, g))
	root.AddCommand(newBundle(env, g), newUpdateKey(env, g))
	return root
}

// repoRoot finds the checkout: --root, else the first folder upwards from the current one that has
// editions/ and recipes/.
func (g *globals) repoRoot() (string, error) {
	if g.root != "" {
		if !isDir(filepath.Join(g.root, "editions")) {
			return "", fmt.Errorf("--root %s: no editions/ folder there", g.root)
		}
		return filepath.Abs(g.root)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if isDir(filepath.Join(d, "editions")) && isDir(filepath.Join(d, "recipes")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no genai-build checkout here: run from inside one (it has editions/ and recipes/) or pass --root")
		}
	}
}

func (g *globals) cache(env Env) (*cache.Cache, error) {
	dir := g.cacheDir
	if dir == "" {
		var err error
		if dir, err = cache.DefaultDir(env.Getenv); err != nil {
			return nil, err
		}
	}
	// The cache warns about entries it finds corrupt and drops: the user should see those.
	c := &cache.Cache{Dir: dir, Log: g.logger(env)}
	r, err := g.remoteCache(env)
	if err != nil {
		return nil, err
	}
	if r != nil {
		c.Remote = r
	}
	return c, nil
}

// remoteCache is --cache-remote, else $GENAI_BUILD_CACHE_REMOTE; nil when neither is set. Every
// verb that takes the cache through globals.cache (iso, release, repo) reads and writes through it.
func (g *globals) remoteCache(env Env) (*ocicache.Remote, error) {
	spec, from := g.remote, "--cache-remote"
	if spec == "" {
		spec, from = env.Getenv(ocicache.EnvVar), "$"+ocicache.EnvVar
	}
	if spec == "" {
		return nil, nil
	}
	r, err := ocicache.New(spec, ocicache.Options{Log: g.logger(env), Getenv: env.Getenv})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return r, nil
}

func (g *globals) logger(env Env) *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
