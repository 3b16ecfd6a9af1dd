package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/release"
	"github.com/genai-os/genai-build/internal/sign"
)

type releaseFlags struct {
	editions  []string
	keys      string
	updateKey string
	key       string
	out       string
	images    string
	version   string
	previous  string
	tested    string
	noBoot    bool
	force     bool
	repo      string
	mirror    string
	secMir    string
	offline   bool
	quiet     bool
}

func newRelease(env Env, g *globals) *cobra.Command {
	f := &releaseFlags{}
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Build, boot-check, checksum and sign every edition into a release folder",
		Long: `Cut a release, locally exactly as CI does:

 1. build every edition (--editions, default: every edition in editions/ that is not abstract, and
    of those the organisation signs, such as enterprise, only with --keys),
    as genai-build iso does, into --images;
 2. check that every image boots: boot each in QEMU in every mode its output promises (an ISO on
    BIOS, UEFI and UEFI with Secure Boot, from a CD and a USB stick; kernel-initrd directly) and
    refuse the release unless each reaches the init's ready line; or, with --tested FILE, require
    that the go test -json output FILE shows each of those boots passing in test/boot's
    TestBootMatrix (TestBootMatrix/<edition>-iso-<firmware>-<media>); --no-boot releases without
    either and says "not boot-tested" in the notes;
 3. write <out>/<version>/: the images, their .manifest.json and .spdx.json, NOTES.md (editions,
    sizes, digests, kernel, package changes since --previous), release-key.pub.asc, SHA256SUMS over
    all of them (sha256sum's format, sorted) and SHA256SUMS.asc, its detached OpenPGP signature
    made at SOURCE_DATE_EPOCH with the release key (--key FILE, else $` + sign.KeyEnv + `).

The folder is written under a temporary name and renamed when complete, so an interrupted release
leaves none; an existing <out>/<version> is kept unless --force.`,
		Example: `  genai-build release --key ~/genai-release-key/release-key.asc
  genai-build release --editions server --key key.asc --previous release/0.0.9
  go test -json -run 'TestBootMatrix/server-iso-' ./test/boot/ > boot.json
  genai-build release --editions server --tested boot.json     # key from $` + sign.KeyEnv + `
  genai-build release --no-boot --out /tmp/rel --key key.asc   # NOTES.md says "not boot-tested"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRelease(cmd, env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.editions, "editions", "e", nil, "editions to release, comma-separated (default: every edition that is not abstract; those signed with the organisation's Secure Boot keys only with --keys, those with the disk-image output only with --update-key)")
	fl.StringVar(&f.keys, "keys", "", "the organisation's Secure Boot key `folder` (genai-build keys init), for the editions it signs (enterprise) (default: $"+KeysEnv+")")
	fl.StringVar(&f.updateKey, "update-key", "", "the update key `folder` (genai-build update-key init), for the editions with the disk-image output (embedded) (default: $"+UpdateKeyEnv+")")
	fl.StringVar(&f.key, "key", "", "armored private release key (default: $"+sign.KeyEnv+"); genai-build release-key makes one")
	fl.StringVarP(&f.out, "out", "o", "", "releases folder; the release goes to <out>/<version> (default: release/ in the checkout)")
	fl.StringVar(&f.images, "images", "", "where the builds write the images (default: images/ in the checkout)")
	fl.StringVar(&f.version, "version", "", "release version (default: the editions' version, which must then agree)")
	fl.StringVar(&f.previous, "previous", "", "an earlier release folder (release/<version>) to list package changes against")
	fl.StringVar(&f.tested, "tested", "", "go test -json output of test/boot whose boot tests stand for booting here")
	fl.BoolVar(&f.noBoot, "no-boot", false, "release without booting the images (NOTES.md says not boot-tested)")
	fl.BoolVar(&f.force, "force", false, "replace an existing <out>/<version>")
	fl.StringVar(&f.repo, "repo", "", "an APT repository folder (genai-build repo's output) to include as repo/")
	fl.StringVar(&f.mirror, "mirror", "", "Debian mirror URL (default: $GENAI_BUILD_MIRROR or the host's apt sources)")
	fl.StringVar(&f.secMir, "security-mirror", "", "Debian security archive URL (default: $"+debian.SecurityMirrorEnv+" or the host's apt sources)")
	fl.BoolVar(&f.offline, "offline", false, "build from the cache alone")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no build progress output")
	return cmd
}

// releaseEdition is one edition to release: its manifest and the boots its outputs promise.
type releaseEdition struct {
	ed   *edition.Edition
	rows []release.BootRow
	boot release.BootCheck
	res  *build.Result
}

func runRelease(cmd *cobra.Command, env Env, g *globals, f *releaseFlags) error {
	start := time.Now()
	if f.noBoot && f.tested != "" {
		return errors.New("--no-boot and --tested exclude each other: --tested checks the boots, --no-boot skips them")
	}
	root, err := g.repoRoot()
	if err != nil {
		return err
	}
	// Everything that can refuse the release is checked before the first build.
	key, err := sign.Load(f.key, env.Getenv)
	if err != nil {
		return err
	}
	keysDir := f.keys
	if keysDir == "" {
		keysDir = env.Getenv(KeysEnv)
	}
	updateKey := f.updateKey
	if updateKey == "" {
		updateKey = env.Getenv(UpdateKeyEnv)
	}
	eds, err := releaseEditions(root, f.editions, keysDir != "", updateKey != "")
	if err != nil {
		return err
	}
	version := f.version
	if version == "" {
		if version, err = commonVersion(eds); err != nil {
			return err
		}
	}
	out := f.out
	if out == "" {
		out = filepath.Join(root, "release")
	}
	if _, err := os.Lstat(release.Dir(out, version)); err == nil && !f.force {
		return fmt.Errorf("%s exists: pass --force to replace it, or release another version (--version)", release.Dir(out, version))
	}
	var prev *release.Previous
	if f.previous != "" {
		if prev, err = release.ReadPrevious(f.previous); err != nil {
			return err
		}
	}
	if f.repo != "" && !isDir(f.repo) {
		return fmt.Errorf("--repo %s: not a folder (genai-build repo writes one)", f.repo)
	}
	for _, e := range eds {
		if e.rows, err = release.BootRows(e.ed.Name, e.ed.Outputs); err != nil && !f.noBoot {
			return err
		}
	}
	var results release.TestResults
	switch {
	case f.noBoot:
		for _, e := range eds {
			e.boot = release.BootCheck{Method: release.NotBooted}
		}
	case f.tested != "":
		tf, err := os.Open(f.tested)
		if err != nil {
			return fmt.Errorf("--tested: %w", err)
		}
		results, err = release.ParseTestJSON(tf)
		tf.Close()
		if err != nil {
			return fmt.Errorf("--tested %s: %w", f.tested, err)
		}
		for _, e := range eds {
			passed, err := results.CheckTested(e.rows)
			if err != nil {
				return fmt.Errorf("--tested %s: edition %s: %w", f.tested, e.ed.Name, err)
			}
			e.boot = release.BootCheck{Method: release.Tested, Modes: passed, Source: f.tested}
		}
	}
	c, err := g.cache(env)
	if err != nil {
		return err
	}
	date, err := sourceDate(env, root)
	if err != nil {
		return err
	}
	m, sec, err := buildMirrors(env, f.mirror, f.secMir, f.offline)
	if err != nil {
		return err
	}
	for _, e := range eds {
		fmt.Fprintf(env.Stderr, "release %s: building %s\n", version, e.ed.Name)
		e.res, err = build.Run(cmd.Context(), build.Options{Root: root, Edition: e.ed.Name, Keys: keysDir, UpdateKey: updateKey, OutDir: f.images, Cache: c, Mirror: m, Security: sec,
			Offline: f.offline, SourceDate: date, Log: g.logger(env), Progress: newProgress(env.Stderr, f.quiet)})
		if err != nil {
			return fmt.Errorf("edition %s: %w", e.ed.Name, err)
		}
		if results != nil {
			if err := results.CheckImages(e.rows, e.res); err != nil {
				return fmt.Errorf("--tested %s: edition %s: %w", f.tested, e.ed.Name, err)
			}
		}
	}
	if !f.noBoot && f.tested == "" {
		for _, e := range eds {
			var modes []string
			for _, r := range e.rows {
				fmt.Fprintf(env.Stderr, "release %s: booting %s ...\n", version, r.Name())
				b, err := r.Boot(cmd.Context(), e.res)
				if err != nil {
					return fmt.Errorf("not released: %w", err)
				}
				fmt.Fprintf(env.Stderr, "release %s: %s ready after %.1fs (%s)\n", version, r.Name(), b.ReadyAt.Seconds(), b.Accel)
				modes = append(modes, r.Name())
			}
			e.boot = release.BootCheck{Method: release.BootedHere, Modes: modes}
		}
	}
	var rel []release.Edition
	for _, e := range eds {
		rel = append(rel, release.Edition{Result: e.res, Boot: e.boot})
	}
	dir, err := release.Write(release.Options{Out: out, Version: version, Force: f.force, Key: key, SourceDate: date,
		Editions: rel, Previous: prev, Repo: f.repo})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n", dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range entries {
		fmt.Fprintf(env.Stdout, "  %s\n", de.Name())
	}
	fmt.Fprintf(env.Stdout, "  signed by %s (%s); %s in %s\n", key.Fingerprint(), key.UserID(), bootSummary(eds), time.Since(start).Round(time.Second))
	return nil
}

// releaseEditions loads the named editions, or every edition that is not abstract; without the
// organisation's keys the default leaves out the editions whose images it signs (enterprise), and
// without an update key those with the disk-image output (embedded).
func releaseEditions(root string, names []string, haveKeys, haveUpdateKey bool) ([]*releaseEdition, error) {
	set := edition.Set{Dir: filepath.Join(root, "editions")}
	all := len(names) == 0
	if all {
		var err error
		if names, err = set.Names(); err != nil {
			return nil, err
		}
	}
	var eds []*releaseEdition
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		ed, err := set.Load(n)
		if err != nil {
			return nil, err
		}
		if ed.Abstract {
			if all {
				continue
			}
			return nil, fmt.Errorf("edition %s is abstract (a parent of others); it has no image to release", n)
		}
		if build.Signs(ed) && !haveKeys {
			if all {
				continue
			}
			return nil, fmt.Errorf("edition %s is signed with the organisation's Secure Boot keys: pass --keys DIR (or $%s)", n, KeysEnv)
		}
		if build.NeedsUpdateKey(ed) && !haveUpdateKey {
			if all {
				continue
			}
			return nil, fmt.Errorf("edition %s has the disk-image output, whose update bundle the update key signs: pass --update-key DIR (or $%s)", n, UpdateKeyEnv)
		}
		eds = append(eds, &releaseEdition{ed: ed})
	}
	if len(eds) == 0 {
		return nil, errors.New("no edition to release")
	}
	sort.Slice(eds, func(i, j int) bool { return eds[i].ed.Name < eds[j].ed.Name })
	return eds, nil
}

// commonVersion is the version every edition has; editions that disagree need --version.
func commonVersion(eds []*releaseEdition) (string, error) {
	var vs []string
	for _, e := range eds {
		vs = append(vs, e.ed.Name+" "+e.ed.Version)
		if e.ed.Version != eds[0].ed.Version {
			return "", fmt.Errorf("the editions have different versions (%s): give the release's with --version", strings.Join(vs, ", "))
		}
	}
	if eds[0].ed.Version == "" {
		return "", errors.New("the editions name no version: give one with --version")
	}
	return eds[0].ed.Version, nil
}

func bootSummary(eds []*releaseEdition) string {
	n, how := 0, ""
	for _, e := range eds {
		n += len(e.boot.Modes)
		how = e.boot.Method
	}
	switch how {
	case release.BootedHere:
		return fmt.Sprintf("%d boots reached the ready line", n)
	case release.Tested:
		return fmt.Sprintf("%d boot tests passed", n)
	}
	return "NOT boot-tested"
}

// buildMirrors are the Debian archives a build fetches from: none offline; the security archive
// may be missing when everything the lock takes from it is cached (the fetch says so otherwise).
func buildMirrors(env Env, mirror, security string, offline bool) (m, sec debian.Mirror, err error) {
	if offline {
		return m, sec, nil
	}
	if m, err = debian.ResolveMirror(mirror, env.Getenv, "/"); err != nil {
		return m, sec, err
	}
	if sec, err = debian.ResolveSecurityMirror(security, env.Getenv, "/"); err != nil && !errors.Is(err, debian.ErrNoSecurityMirror) {
		return m, sec, err
	}
	return m, sec, nil
}
