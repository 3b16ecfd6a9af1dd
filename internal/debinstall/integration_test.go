package debinstall

import (
	"context"
	"path/filepath"
	"strings"
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
