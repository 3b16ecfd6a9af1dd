package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debresolve"
	"github.com/genai-os/genai-build/internal/recipe"
)

// ResolveSet resolves a debian-packages recipe against an index: its packages (with their version
// constraints), their dependencies, less the recipe's exclusions.
func ResolveSet(ix *debian.Index, arch string, r *recipe.Recipe) (*debresolve.Result, error) {
	var rq []debresolve.Request
	for _, p := range r.Packages {
		name, version := splitVersion(p)
		rq = append(rq, debresolve.Request{Name: name, Version: version})
	}
	return debresolve.Resolve(ix, arch, rq, debresolve.Options{Exclude: r.Exclude})
}

// splitVersion splits "name (>= 1.2)" into the name and the constraint.
func splitVersion(s string) (name, version string) {
	name, rest, ok := strings.Cut(s, "(")
	if !ok {
		return strings.TrimSpace(s), ""
	}
	return strings.TrimSpace(name), strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), ")"))
}

// DefaultSuite is the Debian release images are built from (the kernel's 6.12 series).
const DefaultSuite = "trixie"

// LockOptions are the inputs of a lock refresh.
type LockOptions struct {
	Root     string
	Suite    string // the release followed; default: the current lock's, else DefaultSuite
	Arch     string // default amd64
	Cache    *cache.Cache
	Mirror   debian.Mirror // the main archive (the release and its -updates suite)
	Security debian.Mirror // the security archive (<release>-security)
	Now      time.Time     // to check signatures and each InRelease's Valid-Until
	// Check resolves and compares with the current lock, and writes nothing.
	Check bool
	// Progress reports downloads (the main Packages index is about 10 MB).
	Progress func(name string, done, total int64)
}

// LockChange is one package whose pin changed.
type LockChange struct {
	Name     string
	Old, New string // versions ("" when absent)
	Suite    string // the new pin's suite ("" when removed)
}

// String is the change as `genai-build lock` prints it, one package a line:
// "openssh-server 1:10.0p1-7 -> 1:10.0p1-7+deb13u1 (trixie-security)", "(new)" or "(removed)".
func (c LockChange) String() string {
	old, new := c.Old, c.New
	if old == "" {
		old = "(new)"
	}
	if new == "" {
		return c.Name + " " + old + " -> (removed)"
	}
	return fmt.Sprintf("%s %s -> %s (%s)", c.Name, old, new, c.Suite)
}

// LockResult is what a lock refresh found.
type LockResult struct {
	Lock    *debian.Lock
	Changes []LockChange // packages whose pin changed, by name
	// RecipesChanged names the recipes whose lock digest differs from the current lock's
	// (changed since, new, or gone).
	RecipesChanged []string
	Written        bool // false with Check
}

// Outdated says whether the current lock differs from the archive and recipes in what it pins.
func (r *LockResult) Outdated() bool { return len(r.Changes) > 0 || len(r.RecipesChanged) > 0 }

// Lock resolves every Debian package named by the checkout's recipes against the archive's
// followed suites (the release, -updates, -security), each verified from its InRelease down, the
// highest version of each package winning, and writes recipes/debian.lock (unless o.Check). A
// suite whose InRelease is older than the current lock's (a rollback) or expired is refused.
func Lock(ctx context.Context, o LockOptions) (*LockResult, error) {
	names, err := recipe.Names(filepath.Join(o.Root, "recipes"))
	if err != nil {
		return nil, err
	}
	recipes, err := recipe.LoadAll(filepath.Join(o.Root, "recipes"), names)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var reqs []debian.Request
	var sets []*recipe.Recipe
	digests := map[string]string{}
	for _, r := range recipes {
		if d := r.LockDigest(); d != "" {
			digests[r.Name] = d
		}
		if r.Kind == recipe.KindDebianPackages {
			sets = append(sets, r)
			continue
		}
		for _, p := range r.DebianPackages() {
			if seen[p] {
				continue
			}
			seen[p] = true
			req := debian.Request{Name: p}
			if r.Kind == recipe.KindKernel {
				req.FollowDepends = "linux-image-"
			}
			reqs = append(reqs, req)
		}
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].Name < reqs[j].Name })
	lockPath := filepath.Join(o.Root, LockFile)
	old, err := debian.ReadLock(lockPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (move it away to lock from scratch, without the rollback check)", err)
	}
	suite, arch := o.Suite, o.Arch
	if suite == "" && old != nil {
		suite = old.Suite
	}
	if suite == "" {
		suite = DefaultSuite
	}
	if arch == "" {
		arch = "amd64"
	}
	keyring, err := os.ReadFile(filepath.Join(o.Root, KeyringFile))
	if err != nil {
		return nil, fmt.Errorf("Debian archive keyring: %w", err)
	}
	f := &debian.Fetcher{Mirror: o.Mirror, Security: o.Security, Cache: o.Cache, Progress: o.Progress}
	lock, ix, err := debian.OpenArchive(ctx, f, debian.ArchiveOptions{Release: suite, Arch: arch, Keyring: keyring, Now: o.Now, Previous: old})
	if err != nil {
		var rb *debian.RollbackError
		if errors.As(err, &rb) {
			return nil, fmt.Errorf("%s: %w", LockFile, err)
		}
		return nil, err
	}
	if err := lock.Pin(ix, reqs); err != nil {
		return nil, err
	}
	for _, r := range sets {
		res, err := ResolveSet(ix, arch, r)
		if err != nil {
			return nil, fmt.Errorf("recipe %s: %w", r.Name, err)
		}
		lock.Add(res.Locked()...)
		if lock.Sets == nil {
			lock.Sets = map[string][]string{}
		}
		lock.Sets[r.Name] = res.Names()
	}
	lock.Recipes = digests
	res := &LockResult{Lock: lock, Changes: diffLocks(old, lock), RecipesChanged: changedRecipes(old, digests)}
	if o.Check {
		return res, nil
	}
	if err := lock.Write(lockPath); err != nil {
		return nil, err
	}
	res.Written = true
	return res, nil
}

// diffLocks lists the packages whose pinned version differs between old (nil: none) and new.
func diffLocks(old, new *debian.Lock) []LockChange {
	var changes []LockChange
	oldV := map[string]string{}
	if old != nil {
		for _, p := range old.Packages {
			oldV[p.Name] = p.Version
		}
	}
	for _, p := range new.Packages {
		if v, ok := oldV[p.Name]; !ok || v != p.Version {
			changes = append(changes, LockChange{Name: p.Name, Old: v, New: p.Version, Suite: p.Suite})
		}
		delete(oldV, p.Name)
	}
	for n, v := range oldV {
		changes = append(changes, LockChange{Name: n, Old: v})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Name < changes[j].Name })
	return changes
}

// changedRecipes names the recipes whose digest in old (nil: none) differs from digests.
func changedRecipes(old *debian.Lock, digests map[string]string) []string {
	var had map[string]string
	if old != nil {
		had = old.Recipes
	}
	var out []string
	for n, d := range digests {
		if had[n] != d {
			out = append(out, n)
		}
	}
	for n := range had {
		if _, ok := digests[n]; !ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
