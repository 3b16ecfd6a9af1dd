package debresolve

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/debian/debiantest"
	"github.com/genai-os/genai-build/internal/recipe"
)

// TestRealIndex resolves recipes/server-packages.yaml against the Packages indices pinned by
// recipes/debian.lock, from the build cache or, when it is not cached, the mirrors. The indices
// are checked against the lock's SHA-256s: a mismatch fails.
func TestRealIndex(t *testing.T) {
	real := debiantest.Open(t)
	lock := real.Lock
	r, err := recipe.Load(filepath.Join(real.Root, "recipes"), "server-packages")
	if err != nil {
		t.Fatal(err)
	}
	serverExclude := r.Exclude
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ix, err := real.Fetcher.FetchLockedIndex(ctx, lock)
	real.Need(t, "locked indices", err)

	start := time.Now()
	res, err := Resolve(ix, lock.Architecture, []Request{{Name: "openssh-server"}}, Options{Exclude: serverExclude})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resolved in %s, %d packages, %d bytes compressed:", time.Since(start).Round(time.Millisecond), len(res.Packages), res.Size())
	for _, p := range res.Packages {
		t.Logf("  %-24s %-22s %8d  <- %s (%s)", p.Name, p.Version, p.Package.Size, p.Why, p.Relation)
	}
	for _, name := range slices.Sorted(maps.Keys(res.Excluded)) {
		t.Logf("  excluded %s (wanted by %s)", name, res.Excluded[name])
	}
	found := false
	for _, p := range res.Packages {
		found = found || p.Name == "openssh-server"
		for _, x := range serverExclude {
			if p.Name == x {
				t.Errorf("excluded %s chosen", x)
			}
		}
	}
	if !found {
		t.Error("openssh-server not in the result")
	}
	// Resolving twice gives the same set.
	again, err := Resolve(ix, lock.Architecture, []Request{{Name: "openssh-server"}}, Options{Exclude: serverExclude})
	if err != nil || len(again.Packages) != len(res.Packages) || again.Size() != res.Size() {
		t.Errorf("second resolution differs: %v", err)
	}
}
