package debinstall

import (
	"context"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/debian/debiantest"
	"github.com/genai-os/genai-build/internal/debresolve"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/recipe"
)

// TestRealOpenSSH resolves openssh-server (with recipes/server-packages.yaml's exclusions)
// against the indices pinned by recipes/debian.lock, fetches the packages (verified) into the
// build cache and installs them into a tree. A digest mismatch fails; it is skipped, loudly, only
// when the network is absent and the cache lacks something.
func TestRealOpenSSH(t *testing.T) {
	real := debiantest.Open(t)
	lock := real.Lock
	r, err := recipe.Load(filepath.Join(real.Root, "recipes"), "server-packages")
	if err != nil {
		t.Fatal(err)
	}
	exclude := r.Exclude
	f := real.Fetcher
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ix, err := f.FetchLockedIndex(ctx, lock)
	real.Need(t, "locked indices", err)
	res, err := debresolve.Resolve(ix, lock.Architecture, []debresolve.Request{{Name: "openssh-server"}}, debresolve.Options{Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	var debs []Deb
	for _, lp := range res.Locked() {
		p, err := f.FetchLocked(ctx, lp)
		real.Need(t, "package "+lp.Name, err)
		debs = append(debs, Deb{Package: lp, Path: p})
	}
	start := time.Now()
	tree := fstree.New()
	inst, err := Install(tree, debs, Options{DropDocs: true})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, e := range tree.Entries() {
		size += e.Size
	}
	t.Logf("installed %d packages in %s: %d entries, %d bytes uncompressed", len(inst.Packages), time.Since(start).Round(time.Millisecond), tree.Len(), size)
	for _, p := range inst.Packages {
		t.Logf("  %-24s %-12s scripts=%v", p.Name, p.License, p.Scripts)
	}
	for _, e := range tree.Entries() {
		if strings.Contains(e.Path, "sysusers.d/") || strings.Contains(e.Path, "tmpfiles.d/") || e.Path == "etc/ssh/sshd_config" || strings.HasPrefix(e.Path, "usr/sbin/") {
			t.Logf("  %s %s %o %s", e.Kind, e.Path, e.Mode, e.Target)
			if strings.Contains(e.Path, "sysusers.d/") || strings.Contains(e.Path, "tmpfiles.d/openssh") {
				t.Logf("    %q", e.Data)
			}
		}
	}
	for _, p := range []string{"usr/sbin/sshd", "usr/bin/ssh-keygen", "usr/lib/x86_64-linux-gnu/libc.so.6", "var/lib/dpkg/status"} {
		if e, ok := tree.Get(p); !ok || e.Kind != fstree.File {
			t.Errorf("%s missing", p)
		}
	}
	if e, ok := tree.Get("lib64/ld-linux-x86-64.so.2"); ok {
		t.Errorf("lib64 not merged: %+v", e)
	}
}

// TestRealDeveloperSetSpooled unpacks the locked developer-packages set (the real archive, through
// the build cache) spooled and in memory: both give the same tree, entry by entry, and the spool
// keeps the heap to the tree's metadata. It logs the peak heap in use of each way (HeapInuse,
// sampled, above what was in use before); the figure README.md and the issue quote.
func TestRealDeveloperSetSpooled(t *testing.T) {
	real := debiantest.Open(t)
	const name = "developer-packages"
	r, err := recipe.Load(filepath.Join(real.Root, "recipes"), name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	pkgs, paths := real.FetchSet(t, ctx, name)
	var debs []Deb
	for i, lp := range pkgs {
		debs = append(debs, Deb{Package: lp, Path: paths[i]})
	}
	install := func(o Options) (*fstree.Tree, uint64, time.Duration) {
		t.Helper()
		o.Overrides = r.Overrides
		tree := fstree.New()
		start := time.Now()
		peak := peakHeap(func() {
			if _, err := Install(tree, debs, o); err != nil {
				t.Fatal(err)
			}
		})
		return tree, peak, time.Since(start)
	}
	spool := t.TempDir()
	spooled, spooledPeak, spooledTook := install(Options{Spool: spool})
	want := describe(t, spooled)
	checkSpooled(t, spooled, spool)
	var size, stored int64
	for _, e := range spooled.Entries() {
		size += e.Size
	}
	filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				stored += fi.Size()
			}
		}
		return err
	})
	spooled = nil
	linked, _, _ := install(Options{Spool: spool, Hardlinks: true})
	links := 0
	for _, e := range linked.Entries() {
		if e.Kind == fstree.Hardlink {
			links++
			t.Logf("hard link %s -> %s", e.Path, e.Target)
			if f, ok := linked.Get(e.Target); !ok || f.Kind != fstree.File {
				t.Errorf("hard link %s names %s, not a file of the tree", e.Path, e.Target)
			}
		}
	}
	if links == 0 {
		t.Error("no hard links with Options.Hardlinks; perl ships two")
	}
	linked = nil

	mem, memPeak, memTook := install(Options{})
	compareTrees(t, describe(t, mem), want)
	t.Logf("%s: %d packages, %d entries, %d MB of file contents (%d MB in the spool, identical contents once), %d hard links",
		name, len(debs), len(want), size>>20, stored>>20, links)
	t.Logf("peak heap in use: %d MB in memory (%s), %d MB spooled (%s)", memPeak>>20, memTook.Round(time.Millisecond), spooledPeak>>20, spooledTook.Round(time.Millisecond))
	if memPeak < uint64(size) {
		t.Errorf("in memory the heap peaked at %d MB, under the %d MB of contents: the measure is wrong", memPeak>>20, size>>20)
	}
	// The spooled heap holds each entry's metadata (a few hundred bytes), the decompressors'
	// windows and one copy buffer: far below the contents.
	if spooledPeak > uint64(size)/8 {
		t.Errorf("spooled, the heap peaked at %d MB for %d MB of contents; want it bounded by the entries, not their bytes", spooledPeak>>20, size>>20)
	}
}

// peakHeap runs f and returns the most heap in use (runtime.MemStats.HeapInuse, sampled every few
// milliseconds) above what was in use before it.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}
