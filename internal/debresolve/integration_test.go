package debresolve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
)

// serverExclude is what an initramfs-only image without systemd, PAM stack management or
// maintainer scripts does without: debconf and its perl only serve the maintainer scripts; the
// service is run by our init, not systemd (openssh-server's Depends allow sysvinit-style
// alternatives, see the resolved list); adduser and the *-runtime packages only configure things
// the builder does from data.
//
// libpam-modules and libpam-runtime are the PAM stack: sshd links libpam0g but runs with
// "UsePAM no" in our image; passwd, base-passwd and login.defs manage /etc/passwd, which
// internal/accounts generates; lsb-base and sysvinit-utils serve the SysV init script.
var serverExclude = []string{
	"adduser", "base-passwd", "debconf", "init-system-helpers", "libpam-modules", "libpam-runtime",
	"lsb-base", "passwd", "perl-base", "procps", "runit-helper", "systemd", "sysvinit-utils", "ucf",
}

// TestRealIndex resolves openssh-server against the Packages index pinned by recipes/debian.lock,
// read from $GENAI_BUILD_CACHE (skipped when unset or when the index is not there and no mirror
// can supply it) and verified against the archive keyring.
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
	keyring, err := os.ReadFile(filepath.Join(root, "recipes", "keys", "debian-archive-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cache.Cache{Dir: dir}
	f := &debian.Fetcher{Cache: c, Offline: true}
	var inRelease []byte
	if p, err := c.Blob(lock.Release.SHA256); err == nil {
		inRelease, err = os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		m, err := debian.ResolveMirror("", os.Getenv, "/")
		if err != nil {
			t.Skipf("InRelease %s not cached and no mirror: %v", lock.Release.SHA256, err)
		}
		f = &debian.Fetcher{Mirror: m, Cache: c}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if inRelease, err = f.FetchRelease(ctx, lock.Suite); err != nil {
			t.Skipf("InRelease: %v", err)
		}
		if sum := sha256.Sum256(inRelease); hex.EncodeToString(sum[:]) != lock.Release.SHA256 {
			t.Skip("the archive's InRelease moved on since recipes/debian.lock was written")
		}
	}
	rel, err := debian.VerifyInRelease(inRelease, bytes.NewReader(keyring), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ix, err := f.FetchIndex(context.Background(), rel, debian.LockComponent, lock.Architecture)
	if errors.Is(err, cache.ErrMissing) {
		t.Skipf("index not cached: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if ix.File.SHA256 != lock.Index.SHA256 {
		t.Fatalf("index %s, lock pins %s", ix.File.SHA256, lock.Index.SHA256)
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
