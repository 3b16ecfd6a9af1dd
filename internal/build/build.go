// Package build runs the pipeline that turns an edition manifest into images. The pipeline is a
// chain of values, each step taking the previous ones' and returning its own:
//
//	prepare   edition, recipes, lock; fetch and verify every Debian input       -> inputs
//	kernel    unpack the kernel, check its config, the edition's modules        -> kernel (a segment)
//	userland  the init, the edition's Go programs, u-root's busybox             -> programs (segments)
//	packages  the edition's Debian packages, unpacked                          -> packages (segments)
//	rootfs    the generated system tree                                         -> rootTree: what the system holds
//	place     the root's placement: all in the initramfs, or layers on the medium -> placed
//	boot      the boot loaders the outputs need, the UEFI system partition     -> loaders
//	image     the boot chain (kernel, initramfs, menu, loaders, medium files) written
//	          by each output format of the edition (internal/output), checksums, manifest
//
// Every step's output is cached by the hash of its inputs (internal/cache, through state.stage), so a
// rebuild redoes only what changed.
package build

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/memreq"
	"github.com/genai-os/genai-build/internal/output"
	"github.com/genai-os/genai-build/internal/pesign"
	"github.com/genai-os/genai-build/internal/recipe"
	"github.com/genai-os/genai-build/internal/sbkeys"
)

// LockFile is the lock's path in the checkout.
const LockFile = "recipes/debian.lock"

// KeyringFile is the Debian archive keyring that verifies InRelease.
const KeyringFile = "recipes/keys/debian-archive-keyring.gpg"

// Progress receives what a long build is doing; the CLI shows it on a terminal.
type Progress interface {
	// Step starts step n of total.
	Step(n, total int, name, detail string)
	// Bytes reports a download's progress (total may be 0 when unknown).
	Bytes(name string, done, total int64)
	// Note reports a slow sub-task ("building u-root busybox (about a minute)").
	Note(msg string)
}

type nopProgress struct{}

func (nopProgress) Step(int, int, string, string) {}
func (nopProgress) Bytes(string, int64, int64)    {}
func (nopProgress) Note(string)                   {}

// Options are the inputs of one build.
type Options struct {
	Root    string // the genai-build checkout
	Edition string
	// EditionsDir, when set, is where the editions are read instead of <Root>/editions: a test
	// builds a variant of a real edition (one more file beside copies of the checkout's) while the
	// recipes, overlays, lock and Go sources stay the checkout's.
	EditionsDir string
	OutDir      string // default <Root>/images
	Cache       *cache.Cache
	Mirror      debian.Mirror // where Debian packages come from (needed unless every blob is cached)
	// Security is the security archive, for packages the lock took from <release>-security.
	Security debian.Mirror
	Offline  bool // build from the cache alone
	// ExtraOverlays are host folders laid over the root tree after the edition's overlays (like
	// mkosi's ExtraTrees): site configuration, keys, test services.
	ExtraOverlays []string
	// Outputs, when set, replace the edition's output formats (names from internal/output's
	// registry): a test that boots the kernel and initramfs directly asks for kernel-initrd alone.
	Outputs []string
	// SSHKeys are authorized_keys lines added for root (genai-build iso --ssh-key).
	SSHKeys []string
	// Assistant, field by field where set, replaces the edition's assistant: settings (genai-build
	// iso --assistant-endpoint, --assistant-model, --assistant-key-file); with an endpoint the
	// image gets /etc/genai/assistant.conf.
	Assistant edition.Assistant
	// Keys is the organisation's Secure Boot key set (genai-build keys init); an output that
	// signs (uefi-iso) needs its db key and certificate. Only they are read.
	Keys string
	// UpdateKey is the update key folder (genai-build update-key init); an edition with the
	// disk-image output needs it: its public key goes into the root, its private key signs the
	// update bundle.
	UpdateKey string
	// BundleOnly keeps only the update bundle of the build's images (genai-build bundle).
	BundleOnly bool
	SourceDate time.Time // every timestamp in the image
	Log        *slog.Logger
	Progress   Progress
}

// StepTime is how long a step took.
type StepTime struct {
	Name     string
	Duration time.Duration
}

// Result is what a build wrote.
type Result struct {
	// Image, Checksum, SHA256 and Size describe the primary image: the first file of the first
	// output format. Images lists every image file written, the primary first.
	Image    string
	Checksum string // <image>.sha256
	Images   []ImageFile
	Manifest string // <image>.manifest.json
	SBOM     string // <image>.spdx.json
	SHA256   string
	Size     int64
	// Placement is where the root lives (edition.PlacementInitramfs or PlacementImage); Layers are
	// the root's layers on the medium (placement image), lowest first, and BuildID their identity.
	Placement    string
	Layers       []Layer
	BuildID      string
	InitrdSize   int64
	KernelSize   int64
	KernelVer    string
	Steps        []StepTime
	CacheHits    []string // the stages that were reused
	CacheMisses  []string // the stages that were built
	ManifestData *Manifest
	// Memory is the computed memory minimum; Segments are the initramfs's parts, in order.
	Memory   *memreq.Estimate
	Segments []SegmentFile
}

// ImageFile is one image file a build wrote.
type ImageFile struct {
	Output   string // the output format that wrote it (iso, kernel-initrd)
	Format   string // iso, vmlinuz, initrd
	Path     string
	Checksum string // <path>.sha256
	Size     int64
	SHA256   string
}

// state is the context of one build: its options, the edition and its recipes, the lock, and
// which stages were reused. What the steps make, they return as values.
type state struct {
	opts    Options
	log     *slog.Logger
	prog    Progress
	ed      *edition.Edition
	recipes []*recipe.Recipe
	lock    *debian.Lock
	fetcher *debian.Fetcher

	mu     sync.Mutex // hits and misses: userland looks stages up concurrently
	hits   []string
	misses []string

	// spoolDir holds the unpacked packages' file contents while the build runs (debinstall's
	// Options.Spool), made on first use; release removes it.
	spoolDir string
	release  func()

	// sign signs a PE image with the Secure Boot db key (nil without --keys); signerID is the
	// SHA-256 of its certificate.
	sign     func([]byte) ([]byte, error)
	signerID string
	// updateKey signs the update bundle (nil without --update-key).
	updateKey ed25519.PrivateKey
}

// spool is the build's folder for unpacked file contents, made on first use.
func (s *state) spool() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spoolDir == "" {
		dir, release, err := s.opts.Cache.Scratch("spool")
		if err != nil {
			return "", fmt.Errorf("spool for unpacked packages: %w", err)
		}
		s.spoolDir, s.release = dir, release
	}
	return s.spoolDir, nil
}

func (s *state) stageHit(kind string, hit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hit {
		s.hits = append(s.hits, kind)
	} else {
		s.misses = append(s.misses, kind)
	}
}

// stage returns the folder of the cached stage kind/key (checking the files named in use, all when
// none), or, when it is missing or fails its check, shows note and builds it with fill, committed
// atomically. label names the stage in Result's hits and misses. built says fill ran.
func (s *state) stage(kind, key, label, note string, fill func(dir string) error, use ...string) (dir string, built bool, err error) {
	dir, err = s.opts.Cache.Stage(kind, key, use...)
	s.stageHit(label, err == nil)
	if err == nil {
		return dir, false, nil
	}
	if note != "" {
		s.prog.Note(note)
	}
	dir, err = s.opts.Cache.CommitStage(kind, key, fill)
	return dir, true, err
}

// Run builds the edition's images.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Cache == nil {
		return nil, errors.New("build: no cache")
	}
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join(opts.Root, "images")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Progress == nil {
		opts.Progress = nopProgress{}
	}
	if opts.SourceDate.IsZero() {
		return nil, errors.New("build: no source date (SOURCE_DATE_EPOCH)")
	}
	s := &state{opts: opts, log: opts.Log, prog: opts.Progress}
	defer func() {
		if s.release != nil {
			s.release()
		}
	}()
	// The values the steps hand each other.
	var (
		inputs   []Input
		kern     *kernelOut
		programs []*segment
		pkgs     *packagesOut
		root     *rootTree
		pl       *placed
		loaders  map[string]string
		res      *Result
	)
	steps := []struct {
		name   string
		detail string
		run    func(context.Context) error
	}{
		{"prepare", "edition, recipes, lock; fetch and verify Debian packages", func(ctx context.Context) (err error) {
			inputs, err = s.prepare(ctx)
			return err
		}},
		{"kernel", "unpack the kernel, check its config, resolve modules", func(ctx context.Context) (err error) {
			kern, err = s.kernelStep(ctx)
			return err
		}},
		{"userland", "build the init, Go programs and u-root busybox", func(ctx context.Context) error {
			var goInputs []Input
			var err error
			programs, goInputs, err = s.userland(ctx)
			inputs = append(inputs, goInputs...)
			return err
		}},
		{"packages", "unpack Debian packages and configure them from data", func(ctx context.Context) (err error) {
			pkgs, err = s.packageSegments(ctx)
			return err
		}},
		{"rootfs", "assemble the root tree", func(ctx context.Context) (err error) {
			root, err = s.rootfs(kern, programs, pkgs)
			return err
		}},
		{"place", "place the root: initramfs, or layers on the medium and an early initramfs", func(ctx context.Context) (err error) {
			pl, err = s.place(ctx, kern, root)
			return err
		}},
		{"boot", "boot loaders, menus, UEFI system partition", func(ctx context.Context) (err error) {
			loaders, err = s.bootStep(ctx)
			return err
		}},
		{"image", "write the images, checksums and manifest", func(ctx context.Context) (err error) {
			res, err = s.image(ctx, imageInputs{inputs: inputs, kernel: kern.stage, packages: pkgs.installed, placed: pl, loaders: loaders})
			return err
		}},
	}
	var times []StepTime
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.prog.Step(i+1, len(steps), st.name, st.detail)
		start := time.Now()
		if err := st.run(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
		times = append(times, StepTime{st.name, time.Since(start)})
		s.log.Debug("step done", "step", st.name, "took", time.Since(start))
	}
	res.Steps = times
	res.CacheHits, res.CacheMisses = s.hits, s.misses
	return res, nil
}

// ImageName is the file name of an edition's ISO.
func ImageName(ed *edition.Edition, format string) string {
	return imageBase(ed) + "." + format
}

// imageBase is the stem of every image file of an edition: genai-os-<edition>-<version>-<arch>.
func imageBase(ed *edition.Edition) string {
	return fmt.Sprintf("genai-os-%s-%s-%s", ed.Name, ed.Version, ed.Arch)
}

// prepare loads the edition, its recipes and the lock into the build's context, fetches every
// Debian package, and returns them as the build's inputs.
func (s *state) prepare(ctx context.Context) (inputs []Input, err error) {
	set := edition.Set{Dir: filepath.Join(s.opts.Root, "editions")}
	if s.opts.EditionsDir != "" {
		set.Dir = s.opts.EditionsDir
	}
	ed, err := set.Load(s.opts.Edition)
	if err != nil {
		return nil, err
	}
	if ed.Abstract {
		return nil, fmt.Errorf("edition %q is abstract (a parent of other editions) and cannot be built", ed.Name)
	}
	if ed.Arch != runtime.GOARCH && ed.Arch != "amd64" {
		return nil, fmt.Errorf("edition %q targets %s, which is not supported", ed.Name, ed.Arch)
	}
	if len(s.opts.Outputs) > 0 {
		for _, o := range s.opts.Outputs {
			if _, ok := output.Lookup(o); !ok {
				return nil, &output.UnknownError{Name: o}
			}
		}
		ed.Outputs = append([]string{}, s.opts.Outputs...)
	}
	if a := s.opts.Assistant; a != (edition.Assistant{}) {
		ed.Assistant.Endpoint = cmp.Or(a.Endpoint, ed.Assistant.Endpoint)
		ed.Assistant.Model = cmp.Or(a.Model, ed.Assistant.Model)
		ed.Assistant.APIKeyFile = cmp.Or(a.APIKeyFile, ed.Assistant.APIKeyFile)
		for _, p := range ed.Assistant.Check() {
			return nil, fmt.Errorf("assistant settings: %s: %s", p[0], p[1])
		}
	}
	s.ed = ed
	if err := s.loadSigner(); err != nil {
		return nil, err
	}
	if err := s.loadUpdateKey(); err != nil {
		return nil, err
	}
	names := append([]string{ed.Kernel.Recipe}, ed.Recipes...)
	if s.recipes, err = recipe.LoadAll(filepath.Join(s.opts.Root, "recipes"), names); err != nil {
		return nil, err
	}
	if s.recipes[0].Kind != recipe.KindKernel {
		return nil, fmt.Errorf("%s: kernel.recipe %q is of kind %s, want kernel", ed.Source, ed.Kernel.Recipe, s.recipes[0].Kind)
	}
	lockPath := filepath.Join(s.opts.Root, LockFile)
	if s.lock, err = debian.ReadLock(lockPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing: run `genai-build lock` to pin the Debian packages", LockFile)
		}
		return nil, err
	}
	if err := s.checkRecipeDigests(); err != nil {
		return nil, err
	}
	s.fetcher = &debian.Fetcher{Mirror: s.opts.Mirror, Security: s.opts.Security, Cache: s.opts.Cache, Offline: s.opts.Offline,
		Progress: func(name string, done, total int64) { s.prog.Bytes(name, done, total) }}
	// Fetch every Debian package first: a failed download or a bad digest stops the build before
	// anything is written.
	var missing []string
	for _, r := range s.recipes {
		names := r.DebianPackages()
		if r.Kind == recipe.KindDebianPackages {
			if names, err = s.packageSet(r); err != nil {
				return nil, err
			}
		}
		for _, name := range names {
			lp, err := s.locked(r, name)
			if err != nil {
				return nil, err
			}
			if _, err := s.fetcher.FetchLocked(ctx, lp); err != nil {
				if errors.Is(err, cache.ErrMissing) {
					missing = append(missing, fmt.Sprintf("%s %s (%s)", lp.Name, lp.Version, lp.Filename))
					continue
				}
				return nil, fmt.Errorf("recipe %s: %w", r.Name, err)
			}
			inputs = append(inputs, Input{Name: lp.Name, Version: lp.Version, SHA256: lp.SHA256, Size: lp.Size,
				From: "debian:" + lp.Suite + ":" + lp.Filename, Recipe: r.Name})
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("offline build, but the cache lacks:\n%s\nrun once without --offline to fetch them", joinLines(missing))
	}
	return inputs, nil
}

// Signs says whether one of an edition's outputs is signed with the organisation's Secure Boot
// db key (it asks for the UKI stub): its build needs Options.Keys.
func Signs(ed *edition.Edition) bool {
	for _, o := range ed.Outputs {
		if w, ok := output.Lookup(o); ok && slices.Contains(w.Loaders(), output.RoleUKIStub) {
			return true
		}
	}
	return false
}

// loadSigner reads the db key when an output signs (it asks for the UKI stub), before anything is
// fetched or built: a missing or bad key stops the build at once.
func (s *state) loadSigner() error {
	if !Signs(s.ed) {
		return nil
	}
	if s.opts.Keys == "" {
		return fmt.Errorf("edition %s: %w", s.ed.Name, output.ErrNoSigner)
	}
	db, err := sbkeys.LoadDB(s.opts.Keys)
	if err != nil {
		return fmt.Errorf("--keys %s: %w", s.opts.Keys, err)
	}
	sum := sha256.Sum256(db.Cert.Raw)
	s.signerID = hex.EncodeToString(sum[:])
	s.sign = func(pe []byte) ([]byte, error) { return pesign.Sign(pe, db) }
	return nil
}

// checkRecipeDigests refuses a build whose recipes ask the archive for something other than what
// the lock resolved (a package added, a new exclude): the lock would silently give the old set.
func (s *state) checkRecipeDigests() error {
	var stale []string
	for _, r := range s.recipes {
		want := r.LockDigest()
		if want == "" {
			continue
		}
		switch got, ok := s.lock.Recipes[r.Name]; {
		case !ok:
			stale = append(stale, fmt.Sprintf("recipe %s (%s) is not in %s", r.Name, r.File, LockFile))
		case got != want:
			stale = append(stale, fmt.Sprintf("recipe %s (%s) changed since %s was written", r.Name, r.File, LockFile))
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%s\nrun `genai-build lock` to resolve it again, and commit the lock", strings.Join(stale, "\n"))
	}
	return nil
}

// locked finds the pinned package for a recipe's Debian package name.
func (s *state) locked(r *recipe.Recipe, name string) (debian.LockedPackage, error) {
	var lp debian.LockedPackage
	var ok bool
	if r.Kind == recipe.KindKernel {
		lp, ok = s.lock.Followed(name)
	} else {
		lp, ok = s.lock.Package(name)
	}
	if !ok {
		return lp, fmt.Errorf("recipe %s: package %s is not in %s: run `genai-build lock` to pin it", r.Name, name, LockFile)
	}
	return lp, nil
}

func joinLines(l []string) string {
	out := ""
	for i, s := range l {
		if i > 0 {
			out += "\n"
		}
		out += "  " + s
	}
	return out
}
