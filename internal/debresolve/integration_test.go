package debresolve

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/recipe"
)

// TestRealIndex resolves recipes/server-packages.yaml against the Packages index pinned by
// recipes/debian.lock, from $GENAI_BUILD_CACHE or, when it is not cached, the mirror (skipped when
// neither has it). The index is checked against the lock's SHA-256.
func TestRealIndex(t *testing.T) {
	dir := os.Getenv("GENAI_BUILD_CACHE")
	if dir == "" {
		t.Skip("GENAI_BUILD_CACHE not set")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	lock, err := debian.ReadLock(filepath.Join(root, "recipes", "debian.lock"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := recipe.Load(filepath.Join(root, "recipes"), "server-packages")
	if err != nil {
		t.Fatal(err)
	}
	serverExclude := r.Exclude
	f := &debian.Fetcher{Cache: &cache.Cache{Dir: dir}, Offline: true}
	if m, err := debian.ResolveMirror("", os.Getenv, "/"); err == nil {
		f = &debian.Fetcher{Mirror: m, Cache: f.Cache}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ix, err := f.FetchLockedIndex(ctx, lock)
	if err != nil {
		t.Skipf("locked index: %v", err)
	}

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
