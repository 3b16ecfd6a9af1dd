// Package debresolve chooses the Debian binary packages an image needs: the requested ones and,
// transitively, what their Depends and Pre-Depends name, against one pinned Packages index.
//
// It is deliberately simpler than apt: one version per package name, no upgrades, no scoring. Each
// dependency group takes its first satisfiable alternative, preferring one already chosen; Essential
// and Priority: required packages are not pulled in unless something depends on them (images are
// minimal, and nothing runs maintainer scripts that would need them). The same index and requests
// always give the same result.
package debresolve

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/internal/debian"
)

// Request asks for one package.
type Request struct {
	Name string
	// Version is an optional constraint in control-file syntax without the parentheses:
	// ">= 1:9.0", "= 1:10.0p1-7", "<< 2". A bare version means "=".
	Version string
}

// Options tune a resolution.
type Options struct {
	// Exclude names packages that are never installed; a dependency naming one (directly, or as a
	// virtual package one of them provides) counts as satisfied. Manifests use it for what an
	// image without maintainer scripts or a PAM stack does not need ("debconf", "perl-base").
	Exclude []string
}

// Chosen is one package of the result.
type Chosen struct {
	debian.Package
	// Why is the package that pulled this one in, or "" for a requested package.
	Why string
	// Relation is the dependency of Why that this package satisfies, as written ("libc6 (>= 2.38)",
	// "debconf-2.0"); "" for a requested package.
	Relation string
	// Root is the request this package was pulled in for (the package's own name for a request).
	Root string
}

// Result is a resolution.
type Result struct {
	Packages []Chosen // sorted by name
	// Excluded lists, for each excluded package a dependency named, the first package whose
	// dependency it would have satisfied: what the manifest's exclusions actually cut.
	Excluded map[string]string
}

// Size is the total compressed size of the chosen packages' .deb files (what a download costs).
func (r *Result) Size() int64 {
	var n int64
	for _, p := range r.Packages {
		n += p.Package.Size
	}
	return n
}

// Names returns the chosen package names, sorted.
func (r *Result) Names() []string {
	out := make([]string, len(r.Packages))
	for i, p := range r.Packages {
		out[i] = p.Name
	}
	return out
}

// Locked returns the result as lock-file entries; Requested is the request each was pulled in for.
func (r *Result) Locked() []debian.LockedPackage {
	out := make([]debian.LockedPackage, len(r.Packages))
	for i, p := range r.Packages {
		out[i] = p.Package.Locked(p.Root)
	}
	return out
}

// UnsatisfiableError says a dependency cannot be met. Chain runs from the request to the
// relation that failed: ["openssh-server", "libssl3t64 (>= 3.0)", "libfoo"].
type UnsatisfiableError struct {
	Chain  []string
	Reason string
}

func (e *UnsatisfiableError) Error() string {
	return strings.Join(e.Chain, " -> ") + ": " + e.Reason
}

// ConflictError says two chosen packages cannot be installed together (Conflicts or Breaks).
type ConflictError struct {
	Package, Other string // Package declares the relation, Other is the package it hits
	Field          string // "Conflicts" or "Breaks"
	Relation       string
	WhyPackage     []string // the chains that pulled each in
	WhyOther       []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s (%s) %s: %s, and %s (%s) is also chosen",
		e.Package, strings.Join(e.WhyPackage, " -> "), e.Field, e.Relation, e.Other, strings.Join(e.WhyOther, " -> "))
}

// provider is a package providing a virtual name, with the version it provides ("" if unversioned).
type provider struct {
	pkg     debian.Package
	version string
}

type node struct {
	pkg   debian.Package
	chain []string // from the request to this package's relation
	c     Chosen
}

type resolver struct {
	ix       *debian.Index
	arch     string
	exclude  map[string]bool
	provides map[string][]provider // virtual name -> providers, in index order
	chosen   map[string]*node
	excluded map[string]string
	queue    []*node
}

// Resolve chooses the packages for requests from ix for architecture arch ("amd64"): each request
// and, transitively, its Pre-Depends and Depends. Packages of architecture arch or "all" are
// considered. An unsatisfiable dependency is an *UnsatisfiableError naming the chain from the
// request; chosen packages that conflict are a *ConflictError (all of them, joined).
func Resolve(ix *debian.Index, arch string, requests []Request, opts Options) (*Result, error) {
	r := &resolver{
		ix: ix, arch: arch,
		exclude:  map[string]bool{},
		provides: map[string][]provider{},
		chosen:   map[string]*node{},
		excluded: map[string]string{},
	}
	for _, n := range opts.Exclude {
		r.exclude[n] = true
	}
	for _, p := range ix.Packages() {
		if !r.archOK(p) || p.Provides == "" {
			continue
		}
		groups, err := debian.ParseRelations(p.Provides)
		if err != nil {
			continue // a broken Provides of an unrelated package must not fail every resolution
		}
		for _, g := range groups {
			for _, v := range g {
				if v.Op != "" && v.Op != "=" {
					continue // Policy §7.5: only "=" is allowed in Provides
				}
				r.provides[v.Name] = append(r.provides[v.Name], provider{pkg: p, version: v.Version})
			}
		}
	}

	for _, req := range requests {
		rel, err := requestRelation(req)
		if err != nil {
			return nil, err
		}
		if r.exclude[rel.Name] {
			return nil, fmt.Errorf("%s: requested and excluded", rel.Name)
		}
		if n, ok := r.satisfiedByChosen(rel); ok {
			if n.c.Why != "" && n.pkg.Name == rel.Name {
				n.c.Why, n.c.Relation, n.c.Root, n.chain = "", "", n.pkg.Name, []string{n.pkg.Name}
			}
			continue
		}
		chain := []string{rel.String()}
		p, reason := r.candidate(rel)
		if reason != "" {
			return nil, &UnsatisfiableError{Chain: chain, Reason: reason}
		}
		r.choose(p, Chosen{Root: rel.Name}, chain)
	}
	for len(r.queue) > 0 {
		n := r.queue[0]
		r.queue = r.queue[1:]
		if err := r.expand(n); err != nil {
			return nil, err
		}
	}
	if err := r.conflicts(); err != nil {
		return nil, err
	}
	res := &Result{Excluded: r.excluded}
	for _, n := range r.chosen {
		res.Packages = append(res.Packages, n.c)
	}
	sort.Slice(res.Packages, func(i, j int) bool { return res.Packages[i].Name < res.Packages[j].Name })
	return res, nil
}

func requestRelation(req Request) (debian.Relation, error) {
	text := strings.TrimSpace(req.Name)
	if v := strings.TrimSpace(req.Version); v != "" {
		if !strings.ContainsAny(v[:1], "<>=") {
			v = "= " + v
		}
		text += " (" + v + ")"
	}
	groups, err := debian.ParseRelations(text)
	if err != nil || len(groups) != 1 || len(groups[0]) != 1 {
		return debian.Relation{}, fmt.Errorf("request %q: invalid name or version constraint: %v", text, err)
	}
	return groups[0][0], nil
}

func (r *resolver) choose(p debian.Package, c Chosen, chain []string) {
	c.Package = p
	n := &node{pkg: p, chain: chain, c: c}
	r.chosen[p.Name] = n
	r.queue = append(r.queue, n)
}

// archOK: packages of the target architecture or "all" (Multi-Arch beyond that is ignored).
func (r *resolver) archOK(p debian.Package) bool {
	return p.Architecture == r.arch || p.Architecture == "all"
}

// applies evaluates a relation's architecture restriction ("[amd64]", "[!i386]", Policy §7.1).
func (r *resolver) applies(rel debian.Relation) bool {
	if len(rel.Archs) == 0 {
		return true
	}
	negated := strings.HasPrefix(rel.Archs[0], "!")
	for _, a := range rel.Archs {
		if strings.TrimPrefix(a, "!") == r.arch || strings.TrimPrefix(a, "!") == "any" || strings.TrimPrefix(a, "!") == "linux-any" {
			return !negated
		}
	}
	return negated
}

// qualifierOK: ":any" and ":native" are met by any package we consider; an explicit
// architecture only by a package of it (or "all").
func (r *resolver) qualifierOK(rel debian.Relation, p debian.Package) bool {
	switch rel.Arch {
	case "", "any", "native":
		return true
	}
	return p.Architecture == rel.Arch || p.Architecture == "all"
}

// satisfiedByChosen finds a chosen package meeting rel, by name or by Provides.
func (r *resolver) satisfiedByChosen(rel debian.Relation) (*node, bool) {
	if n, ok := r.chosen[rel.Name]; ok && rel.SatisfiedBy(n.pkg.Version) && r.qualifierOK(rel, n.pkg) {
		return n, true
	}
	for _, pv := range r.provides[rel.Name] {
		n, ok := r.chosen[pv.pkg.Name]
		if ok && n.pkg.Version == pv.pkg.Version && providesSatisfy(rel, pv) {
			return n, true
		}
	}
	return nil, false
}

// providesSatisfy: an unversioned Provides meets only unversioned dependencies (Policy §7.5).
func providesSatisfy(rel debian.Relation, pv provider) bool {
	if rel.Op == "" {
		return true
	}
	return pv.version != "" && rel.SatisfiedBy(pv.version)
}

// excludedSatisfies reports the excluded package that meets rel, if any.
func (r *resolver) excludedSatisfies(rel debian.Relation) (string, bool) {
	if r.exclude[rel.Name] {
		return rel.Name, true
	}
	for _, pv := range r.provides[rel.Name] {
		if r.exclude[pv.pkg.Name] && providesSatisfy(rel, pv) {
			return pv.pkg.Name, true
		}
	}
	return "", false
}

// candidate finds the package to install for rel: the highest version of the real package that
// satisfies it, else the first provider (by name) that does. A name already chosen at another
// version cannot be chosen twice. reason says why nothing fits.
func (r *resolver) candidate(rel debian.Relation) (debian.Package, string) {
	versions := r.ix.Versions(rel.Name)
	var have []string
	for _, p := range versions {
		if !r.archOK(p) || !r.qualifierOK(rel, p) {
			continue
		}
		have = append(have, p.Version)
		if !rel.SatisfiedBy(p.Version) {
			continue
		}
		if n, ok := r.chosen[p.Name]; ok && n.pkg.Version != p.Version {
			continue
		}
		return p, ""
	}
	provs := slices.Clone(r.provides[rel.Name])
	sort.SliceStable(provs, func(i, j int) bool { return provs[i].pkg.Name < provs[j].pkg.Name })
	for _, pv := range provs {
		if !providesSatisfy(rel, pv) || !r.qualifierOK(rel, pv.pkg) {
			continue
		}
		if n, ok := r.chosen[pv.pkg.Name]; ok && n.pkg.Version != pv.pkg.Version {
			continue
		}
		return pv.pkg, ""
	}
	switch {
	case len(have) > 0:
		return debian.Package{}, fmt.Sprintf("%s has only version %s", rel.Name, strings.Join(have, ", "))
	case len(provs) > 0:
		return debian.Package{}, fmt.Sprintf("no provider of %s satisfies the version", rel.Name)
	}
	return debian.Package{}, "no package provides " + rel.Name
}

// expand resolves the Pre-Depends and Depends of one chosen package.
func (r *resolver) expand(n *node) error {
	for _, field := range []string{n.pkg.PreDepends, n.pkg.Depends} {
		groups, err := debian.ParseRelations(field)
		if err != nil {
			return fmt.Errorf("%s %s: %w", n.pkg.Name, n.pkg.Version, err)
		}
		for _, g := range groups {
			if err := r.group(n, g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *resolver) group(n *node, g []debian.Relation) error {
	var alts []debian.Relation
	for _, rel := range g {
		if r.applies(rel) {
			alts = append(alts, rel)
		}
	}
	if len(alts) == 0 {
		return nil // restricted to other architectures
	}
	for _, rel := range alts {
		if _, ok := r.satisfiedByChosen(rel); ok {
			return nil
		}
	}
	for _, rel := range alts {
		if name, ok := r.excludedSatisfies(rel); ok {
			if _, seen := r.excluded[name]; !seen {
				r.excluded[name] = n.pkg.Name
			}
			return nil
		}
	}
	var reasons []string
	for _, rel := range alts {
		p, reason := r.candidate(rel)
		if reason == "" {
			chain := append(slices.Clone(n.chain), rel.String())
			r.choose(p, Chosen{Why: n.pkg.Name, Relation: rel.String(), Root: n.c.Root}, chain)
			return nil
		}
		reasons = append(reasons, reason)
	}
	texts := make([]string, len(alts))
	for i, rel := range alts {
		texts[i] = rel.String()
	}
	return &UnsatisfiableError{
		Chain:  append(slices.Clone(n.chain), strings.Join(texts, " | ")),
		Reason: strings.Join(reasons, "; "),
	}
}

// conflicts checks Conflicts and Breaks among the chosen packages. A package's relation against a
// name it provides itself is ignored (Policy §7.6.2, the "Provides + Conflicts" idiom).
func (r *resolver) conflicts() error {
	names := make([]string, 0, len(r.chosen))
	for name := range r.chosen {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		n := r.chosen[name]
		for _, field := range []string{"Conflicts", "Breaks"} {
			groups, err := debian.ParseRelations(n.pkg.Fields[field])
			if err != nil {
				return fmt.Errorf("%s %s: %s: %w", n.pkg.Name, n.pkg.Version, field, err)
			}
			for _, g := range groups {
				for _, rel := range g {
					if !r.applies(rel) {
						continue
					}
					for _, other := range r.hits(rel) {
						if other.pkg.Name == n.pkg.Name {
							continue
						}
						errs = append(errs, &ConflictError{
							Package: n.pkg.Name, Other: other.pkg.Name, Field: field, Relation: rel.String(),
							WhyPackage: n.chain, WhyOther: other.chain,
						})
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// hits lists the chosen packages a Conflicts/Breaks relation matches.
func (r *resolver) hits(rel debian.Relation) []*node {
	var out []*node
	if n, ok := r.chosen[rel.Name]; ok && rel.SatisfiedBy(n.pkg.Version) {
		out = append(out, n)
	}
	for _, pv := range r.provides[rel.Name] {
		n, ok := r.chosen[pv.pkg.Name]
		if !ok || n.pkg.Version != pv.pkg.Version || pv.pkg.Name == rel.Name {
			continue
		}
		if rel.Op == "" || (pv.version != "" && rel.SatisfiedBy(pv.version)) {
			out = append(out, n)
		}
	}
	return out
}
