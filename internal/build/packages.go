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
	"github.com/genai-os/genai-build/internal/debinstall"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/recipe"
)

// packagesRecipe names how package sets are unpacked; change it when that changes.
const packagesRecipe = "debian-packages/1"

// InstalledPackage is a Debian package in the image, for the manifest and the SBOM.
type InstalledPackage struct {
	Name           string   `json:"name"`
	Version        string   `json:"version"`
	Architecture   string   `json:"architecture"`
	SHA256         string   `json:"sha256"`
	Source         string   `json:"source"`
	License        string   `json:"license"`
	Recipe         string   `json:"recipe"`
	SkippedScripts []string `json:"skipped_scripts,omitempty"` // maintainer scripts not run
}

// packageMeta is what a package-set stage keeps beside its segment, so a warm build need not unpack.
type packageMeta struct {
	Packages []InstalledPackage `json:"packages"`
	Sysusers []string           `json:"sysusers"` // usr/lib/sysusers.d files, in path order
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
}

// packageSegments unpacks each debian-packages recipe into a segment of its own, cached by the
// packages' digests and the options.
func (s *state) packageSegments(ctx context.Context) (*packagesOut, error) {
	out := &packagesOut{}
	dropDocs := s.ed.Debian.DropDocs != nil && *s.ed.Debian.DropDocs
	for _, r := range s.recipes {
		if r.Kind != recipe.KindDebianPackages {
			continue
		}
		names, err := s.packageSet(r)
		if err != nil {
			return nil, err
		}
		var debs []debinstall.Deb
		parts := []string{packagesRecipe, fmt.Sprint(dropDocs)}
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
		key := cache.Key(parts...)
		var tree *fstree.Tree
		dir, _, err := s.stage("debian-packages", key, "packages:"+r.Name, fmt.Sprintf("unpacking %d Debian packages (%s)", len(debs), r.Name), func(dir string) error {
			if err := s.verifyDebs(ctx, debs); err != nil {
				return err
			}
			tree = fstree.New()
			inst, err := debinstall.Install(tree, debs, debinstall.Options{Overrides: r.Overrides, DropDocs: dropDocs, OriginPrefix: "deb:"})
			if err != nil {
				return err
			}
			var meta packageMeta
			byName := map[string]int{}
			for i, d := range debs {
				byName[d.Package.Name] = i
			}
			for _, p := range inst.Packages {
				lp := debs[byName[p.Name]].Package
				meta.Packages = append(meta.Packages, InstalledPackage{Name: p.Name, Version: p.Version, Architecture: p.Architecture,
					SHA256: lp.SHA256, Source: lp.Source, License: p.License, Recipe: r.Name, SkippedScripts: p.Scripts})
			}
			for _, e := range tree.Entries() {
				if e.Kind == fstree.File && strings.HasPrefix(e.Path, "usr/lib/sysusers.d/") && path.Ext(e.Path) == ".conf" {
					b, err := e.ReadAll()
					if err != nil {
						return err
					}
					meta.Sysusers = append(meta.Sysusers, string(b))
				}
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
		seg := &segment{name: r.Name, key: key, tree: tree}
		if tree == nil {
			// The segment itself is cached under the same key; the tree is rebuilt only if it is not.
			seg.build = func() (*fstree.Tree, error) {
				if err := s.verifyDebs(ctx, debs); err != nil {
					return nil, err
				}
				t := fstree.New()
				_, err := debinstall.Install(t, debs, debinstall.Options{Overrides: r.Overrides, DropDocs: dropDocs, OriginPrefix: "deb:"})
				return t, err
			}
		}
		out.segments = append(out.segments, seg)
	}
	return out, nil
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
