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
	Root   string
	Suite  string // default: the current lock's, else DefaultSuite
	Arch   string // default amd64
	Cache  *cache.Cache
	Mirror debian.Mirror
	Now    time.Time // to check the InRelease's Valid-Until
	// Progress reports downloads (the Packages index is about 10 MB).
	Progress func(name string, done, total int64)
}

// LockChange is one package whose pin changed.
type LockChange struct {
	Name     string
	Old, New string // versions ("" when absent)
}

// Lock resolves every Debian package named by the checkout's recipes against the archive, verified
// from InRelease down, and writes recipes/debian.lock. It returns the new lock and what changed.
func Lock(ctx context.Context, o LockOptions) (*debian.Lock, []LockChange, error) {
	names, err := recipe.Names(filepath.Join(o.Root, "recipes"))
	if err != nil {
		return nil, nil, err
	}
	recipes, err := recipe.LoadAll(filepath.Join(o.Root, "recipes"), names)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	var reqs []debian.Request
	var sets []*recipe.Recipe
	for _, r := range recipes {
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
		return nil, nil, err
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
	keyring, err := os.Open(filepath.Join(o.Root, KeyringFile))
	if err != nil {
		return nil, nil, fmt.Errorf("Debian archive keyring: %w", err)
	}
	defer keyring.Close()
	f := &debian.Fetcher{Mirror: o.Mirror, Cache: o.Cache, Progress: o.Progress}
	lock, ix, err := debian.OpenArchive(ctx, f, suite, arch, keyring, o.Now)
	if err != nil {
		return nil, nil, err
	}
	if err := lock.Pin(ix, reqs); err != nil {
		return nil, nil, err
	}
	for _, r := range sets {
		res, err := ResolveSet(ix, arch, r)
		if err != nil {
			return nil, nil, fmt.Errorf("recipe %s: %w", r.Name, err)
		}
		lock.Add(res.Locked()...)
		if lock.Sets == nil {
			lock.Sets = map[string][]string{}
		}
		lock.Sets[r.Name] = res.Names()
	}
	var changes []LockChange
	oldV := map[string]string{}
	if old != nil {
		for _, p := range old.Packages {
			oldV[p.Name] = p.Version
		}
	}
	for _, p := range lock.Packages {
		if oldV[p.Name] != p.Version {
			changes = append(changes, LockChange{Name: p.Name, Old: oldV[p.Name], New: p.Version})
		}
		delete(oldV, p.Name)
	}
	for n, v := range oldV {
		changes = append(changes, LockChange{Name: n, Old: v})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Name < changes[j].Name })
	if err := lock.Write(lockPath); err != nil {
		return nil, nil, err
	}
	return lock, changes, nil
}
