package debconfigure

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/debian/debiantest"
	"github.com/genai-os/genai-build/internal/debinstall"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/recipe"
)

// realSet unpacks a locked debian-packages set from the real archive (through the default build
// cache) and reads each package's control archive. It is skipped, loudly, only when the network
// is absent and the cache lacks a package.
func realSet(t *testing.T, name string) (*fstree.Tree, []Package, *recipe.Recipe) {
	t.Helper()
	real := debiantest.Open(t)
	r, err := recipe.Load(filepath.Join(real.Root, "recipes"), name)
	if err != nil {
		t.Fatal(err)
	}
	set, ok := real.Lock.Sets[name]
	if !ok {
		t.Fatalf("recipes/debian.lock has no set %s", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var debs []debinstall.Deb
	var pkgs []Package
	for _, n := range set {
		lp, ok := real.Lock.Package(n)
		if !ok {
			t.Fatalf("%s is not locked", n)
		}
		p, err := real.Fetcher.FetchLocked(ctx, lp)
		real.Need(t, "package "+n, err)
		debs = append(debs, debinstall.Deb{Package: lp, Path: p})
		c, err := ReadControl(p)
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, c)
	}
	tree := fstree.New()
	if _, err := debinstall.Install(tree, debs, debinstall.Options{Overrides: r.Overrides}); err != nil {
		t.Fatal(err)
	}
	return tree, pkgs, r
}

func TestRealDeveloperSet(t *testing.T) {
	tree, pkgs, r := realSet(t, "developer-packages")
	start := time.Now()
	res, err := Configure(tree, pkgs, Options{Skip: r.Configure.Skip})
	var ue *UnhandledError
	if errors.As(err, &ue) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("configured %d packages in %s: %d effects classified, %d alternatives, %d certificates", len(pkgs), time.Since(start).Round(time.Millisecond), len(res.Effects), len(res.Alternatives), res.Certificates)
	count := map[How]int{}
	for _, e := range res.Effects {
		count[e.How]++
	}
	t.Logf("by kind: %v", count)
	for _, a := range res.Alternatives {
		t.Logf("  alternative %s -> %s (%d choices)", a.Name, a.Best, len(a.Choices))
	}
}
