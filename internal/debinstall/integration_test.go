package debinstall

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debresolve"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/recipe"
)

// TestRealOpenSSH resolves openssh-server (with recipes/server-packages.yaml's exclusions)
// against the index pinned by recipes/debian.lock, fetches the packages (verified) into
// $GENAI_BUILD_CACHE and installs them into a tree. Skipped unless GENAI_BUILD_CACHE is set and the
// index (and, for missing packages, a mirror) is there.
func TestRealOpenSSH(t *testing.T) {
	dir := os.Getenv("GENAI_BUILD_CACHE")
	if dir == "" || testing.Short() {
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
	exclude := r.Exclude
	f := &debian.Fetcher{Cache: &cache.Cache{Dir: dir}, Client: &http.Client{Timeout: 2 * time.Minute}}
	if m, err := debian.ResolveMirror("", os.Getenv, "/"); err == nil {
		f.Mirror = m
	} else {
		f.Offline = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ix, err := f.FetchLockedIndex(ctx, lock)
	if err != nil {
		t.Skipf("index: %v", err)
	}
	res, err := debresolve.Resolve(ix, lock.Architecture, []debresolve.Request{{Name: "openssh-server"}}, debresolve.Options{Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	var debs []Deb
	for _, lp := range res.Locked() {
		p, err := f.FetchLocked(ctx, lp)
		if err != nil {
			t.Skipf("fetch: %v", err)
		}
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
