package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debconfigure"
	"github.com/genai-os/genai-build/internal/debinstall"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/recipe"
)

// packagesRecipe names how package sets are unpacked; change it when that changes.
const packagesRecipe = "debian-packages/2" // 2: configured by internal/debconfigure, with the CA files kept

// InstalledPackage is a Debian package in the image, for the manifest and the SBOM.
type InstalledPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	SHA256       string `json:"sha256"`
	Source       string `json:"source"`
	License      string `json:"license"`
	Recipe       string `json:"recipe"`
	// Skipped are the maintainer-script effects left undone on purpose (the recipe's
	// configure.skip), as "script:line: effect"; every other effect was produced from data or does
	// not apply (internal/debconfigure).
	Skipped []string `json:"skipped_effects,omitempty"`
}

// packageMeta is what a package-set stage keeps beside its segment, so a warm build need not unpack.
type packageMeta struct {
	Packages []InstalledPackage `json:"packages"`
	Sysusers []string           `json:"sysusers"` // usr/lib/sysusers.d files, in path order
	// Shell says the set has /usr/bin/sh (dash): the system then keeps it rather than u-root's.
	Shell bool `json:"shell,omitempty"`
	// Configured sums up what internal/debconfigure did.
	Configured configureSummary `json:"configured"`
	// CA are the files update-ca-certificates reads (etc/ca-certificates.conf and the
	// certificates under usr/share/ca-certificates) when the set has ca-certificates: the system
	// tree makes the bundle again from them when an overlay adds a local CA.
	CA map[string]string `json:"ca,omitempty"`
}

// configureSummary is what the configure step did to a package set.
type configureSummary struct {
	Effects      map[debconfigure.How]int `json:"effects"` // classified effects, by how they were handled
	Alternatives []string                 `json:"alternatives,omitempty"`
	Certificates int                      `json:"certificates,omitempty"`
}

// packageSet is the resolved set of a debian-packages recipe, from the lock.
func (s *state) packageSet(r *recipe.Recipe) ([]string, error) {
	set, ok := s.lock.Sets[r.Name]
	if !ok {
		return nil, fmt.Errorf("recipe %s: %s has no resolved set for it: run `genai-build lock`", r.Name, LockFile)
	}
	have := map[string]bool{}
	for _, n := range set {
		have[n] = true
	}
	for _, p := range r.Packages {
		name, _ := splitVersion(p)
		if !have[name] {
			return nil, fmt.Errorf("recipe %s asks for %s, which the lock's set lacks: run `genai-build lock`", r.Name, name)
		}
	}
	return set, nil
}

// packagesOut is what the packages step hands on: a segment per package set, the packages for
// the manifest, and the sysusers.d files their accounts come from.
type packagesOut struct {
	segments  []*segment
	installed []InstalledPackage
	sysusers  [][]byte
	shell     bool              // some set has /usr/bin/sh
	ca        map[string]string // the CA files of the set that has ca-certificates
}

// packageSegments unpacks each debian-packages recipe into a segment of its own, cached by the
// packages' digests and the options.
func (s *state) packageSegments(ctx context.Context) (*packagesOut, error) {
	out := &packagesOut{}
	dropDocs := s.ed.Debian.DropDocs != nil && *s.ed.Debian.DropDocs
	keepMan := s.ed.Debian.KeepMan != nil && *s.ed.Debian.KeepMan
	for _, r := range s.recipes {
		if r.Kind != recipe.KindDebianPackages {
			continue
		}
		names, err := s.packageSet(r)
		if err != nil {
			return nil, err
		}
		var debs []debinstall.Deb
		parts := []string{packagesRecipe, fmt.Sprint(dropDocs), "keep-man:" + fmt.Sprint(keepMan)}
		for _, n := range names {
			lp, err := s.locked(r, n)
			if err != nil {
				return nil, err
			}
			blob, err := s.opts.Cache.Blob(lp.SHA256)
			if err != nil {
				return nil, err
			}
			debs = append(debs, debinstall.Deb{Package: lp, Path: blob})
			parts = append(parts, lp.SHA256)
		}
		var ov []string
		for p, w := range r.Overrides {
			ov = append(ov, p+"="+w)
		}
		sort.Strings(ov)
		parts = append(parts, ov...)
		// What configure leaves undone changes the tree too.
		var skip []string
		for p, effects := range r.Configure.Skip {
			skip = append(skip, "skip:"+p+"="+strings.Join(effects, "\x00"))
		}
		sort.Strings(skip)
		// Layers store hard links as hard links; the initramfs's cpio writer takes copies.
		hardlinks := s.ed.Root.PlacementOr() == edition.PlacementImage
		parts = append(append(parts, skip...), "arch:"+s.ed.Arch, "hardlinks:"+fmt.Sprint(hardlinks))
		key := cache.Key(parts...)
		opts := debinstall.Options{Overrides: r.Overrides, DropDocs: dropDocs, KeepMan: keepMan, Hardlinks: hardlinks, OriginPrefix: "deb:"}
		var tree *fstree.Tree
		dir, _, err := s.stage("debian-packages", key, "packages:"+r.Name, fmt.Sprintf("unpacking and configuring %d Debian packages (%s)", len(debs), r.Name), func(dir string) error {
			var meta *packageMeta
			var err error
			if tree, meta, err = s.unpack(ctx, r, debs, opts); err != nil {
				return err
			}
			b, err := json.MarshalIndent(meta, "", " ")
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "packages.json"), b, 0o644)
		})
		if err != nil {
			return nil, fmt.Errorf("recipe %s: %w", r.Name, err)
		}
		var meta packageMeta
		b, err := os.ReadFile(filepath.Join(dir, "packages.json"))
		if err == nil {
			err = json.Unmarshal(b, &meta)
		}
		if err != nil {
			return nil, fmt.Errorf("recipe %s: %w", r.Name, err)
		}
		out.installed = append(out.installed, meta.Packages...)
		for _, u := range meta.Sysusers {
			out.sysusers = append(out.sysusers, []byte(u))
		}
		out.shell = out.shell || meta.Shell
		if meta.CA != nil {
			out.ca = meta.CA
		}
		seg := &segment{name: r.Name, key: key, tree: tree}
		if tree == nil {
			// The segment itself is cached under the same key; the tree is rebuilt only if it is not.
			seg.build = func() (*fstree.Tree, error) {
				t, _, err := s.unpack(ctx, r, debs, opts)
				return t, err
			}
		}
		out.segments = append(out.segments, seg)
	}
	return out, nil
}

// unpack verifies debs, unpacks them into a new tree and configures them as their maintainer
// scripts would (internal/debconfigure, with the recipe's configure.skip): the package set's tree
// and what the manifest says of it.
func (s *state) unpack(ctx context.Context, r *recipe.Recipe, debs []debinstall.Deb, opts debinstall.Options) (*fstree.Tree, *packageMeta, error) {
	err := s.verifyDebs(ctx, debs)
	if err != nil {
		return nil, nil, err
	}
	// File contents go to the build's spool, not into memory: a desktop's set is gigabytes.
	if opts.Spool, err = s.spool(); err != nil {
		return nil, nil, err
	}
	tree := fstree.New()
	inst, err := debinstall.Install(tree, debs, opts)
	if err != nil {
		return nil, nil, err
	}
	var ctl []debconfigure.Package
	for _, d := range debs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		c, err := debconfigure.ReadControl(d.Path)
		if err != nil {
			return nil, nil, err
		}
		ctl = append(ctl, c)
	}
	cres, err := debconfigure.Configure(tree, ctl, debconfigure.Options{Skip: r.Configure.Skip, Arch: s.ed.Arch})
	if err != nil {
		return nil, nil, fmt.Errorf("configure (%s): %w", r.File, err)
	}
	meta := &packageMeta{Configured: configureSummary{Effects: map[debconfigure.How]int{}, Certificates: cres.Certificates}}
	skipped := map[string][]string{}
	for _, e := range cres.Effects {
		meta.Configured.Effects[e.How]++
		if e.How == debconfigure.Skipped {
			skipped[e.Package] = append(skipped[e.Package], fmt.Sprintf("%s:%d: %s", e.Script, e.Line, e.Name))
		}
	}
	for _, a := range cres.Alternatives {
		meta.Configured.Alternatives = append(meta.Configured.Alternatives, a.Name+" -> "+a.Best)
	}
	byName := map[string]int{}
	for i, d := range debs {
		byName[d.Package.Name] = i
	}
	for _, p := range inst.Packages {
		lp := debs[byName[p.Name]].Package
		meta.Packages = append(meta.Packages, InstalledPackage{Name: p.Name, Version: p.Version, Architecture: p.Architecture,
			SHA256: lp.SHA256, Source: lp.Source, License: p.License, Recipe: r.Name, Skipped: skipped[p.Name]})
	}
	for _, e := range tree.Entries() {
		if e.Kind == fstree.File && strings.HasPrefix(e.Path, "usr/lib/sysusers.d/") && path.Ext(e.Path) == ".conf" {
			b, err := e.ReadAll()
			if err != nil {
				return nil, nil, err
			}
			meta.Sysusers = append(meta.Sysusers, string(b))
		}
	}
	_, meta.Shell = tree.Get("usr/bin/sh")
	if cres.Certificates > 0 {
		meta.CA = map[string]string{}
		for _, e := range tree.Entries() {
			if e.Kind == fstree.File && (e.Path == "etc/ca-certificates.conf" || strings.HasPrefix(e.Path, "usr/share/ca-certificates/")) {
				b, err := e.ReadAll()
				if err != nil {
					return nil, nil, err
				}
				meta.CA[e.Path] = string(b)
			}
		}
	}
	return tree, meta, nil
}

// verifyDebs checks the cached .debs by digest before they are unpacked; a damaged one is dropped
// and fetched again (to the same path, which is named by the digest).
func (s *state) verifyDebs(ctx context.Context, debs []debinstall.Deb) error {
	for _, d := range debs {
		if _, err := s.fetcher.FetchLockedVerified(ctx, d.Package); err != nil {
			return err
		}
	}
	return nil
}
