// Package debiantest gives the integration tests of the Debian packages the real archive, as
// genai-build reaches it: the checkout's lock, the mirrors from the environment or the host's apt
// sources, and the build cache at its default place (cache.DefaultDir), warm after one build.
// Only tests import it.
//
// The rule it enforces: a wrong digest or an index that does not parse fails the test. A test is
// skipped only when the network is really absent (no mirror answers at the TCP level) and the
// cache lacks what it needs, and then it says so on stderr as well as in the test log.
package debiantest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
)

// Real is the real archive for one test.
type Real struct {
	Root    string // the checkout
	Lock    *debian.Lock
	Keyring []byte // recipes/keys/debian-archive-keyring.gpg
	Fetcher *debian.Fetcher
	// Online says the main mirror answered at the TCP level. When false, Fetcher is offline.
	Online bool
	// why is the reason the archive cannot be reached, for the skip or failure message.
	why        string
	configured bool // a main mirror is configured
}

// Open finds the checkout, its lock and keyring, the cache and the mirrors.
func Open(t testing.TB) *Real {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	lock, err := debian.ReadLock(filepath.Join(root, "recipes", "debian.lock"))
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := os.ReadFile(filepath.Join(root, "recipes", "keys", "debian-archive-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := cache.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	r := &Real{Root: root, Lock: lock, Keyring: keyring,
		Fetcher: &debian.Fetcher{Cache: &cache.Cache{Dir: dir}, Client: &http.Client{Timeout: 2 * time.Minute}}}
	m, err := debian.ResolveMirror("", os.Getenv, "/")
	if err != nil {
		r.why = err.Error()
	} else {
		r.configured = true
		r.Fetcher.Mirror = m
		if err := dial(m.URL); err != nil {
			r.why = fmt.Sprintf("mirror %s (from %s) unreachable: %v", m.URL, m.From, err)
		} else {
			r.Online = true
		}
	}
	if sec, err := debian.ResolveSecurityMirror("", os.Getenv, "/"); err == nil {
		r.Fetcher.Security = sec
	}
	r.Fetcher.Offline = !r.Online
	return r
}

// dial opens a TCP connection to the mirror's host: the network is present or it is not.
func dial(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(u.Hostname(), port), 10*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// RequireNetwork stops a test that must talk to the archive (to fetch an InRelease, which is never
// cached by digest): skipped, loudly, when the mirror does not answer; failed when none is
// configured.
func (r *Real) RequireNetwork(t testing.TB) {
	t.Helper()
	if !r.Online {
		r.stop(t, "the test talks to the archive")
	}
}

// Need fails the test on err, but for one case: the network is absent and err says only that the
// cache lacks a file. Then the test is skipped, loudly. A digest mismatch or a parse error always
// fails.
func (r *Real) Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !r.Online && errors.Is(err, cache.ErrMissing) {
		r.stop(t, fmt.Sprintf("%s: not cached: %v", what, err))
	}
	t.Fatalf("%s: %v", what, err)
}

func (r *Real) stop(t testing.TB, msg string) {
	t.Helper()
	if !r.configured {
		t.Fatalf("%s, and no Debian mirror is configured (%s): set %s", msg, r.why, debian.MirrorEnv)
	}
	line := fmt.Sprintf("SKIPPED: no network: %s: %s (%s)", t.Name(), msg, r.why)
	fmt.Fprintf(os.Stderr, "\n%s\n%s\n%s\n", banner(len(line)), line, banner(len(line)))
	t.Skip(line)
}

func banner(n int) string {
	b := make([]byte, min(n, 100))
	for i := range b {
		b[i] = '*'
	}
	return string(b)
}

// FetchSet fetches the packages of a locked set (recipes/debian.lock's sets:), verified, through
// the cache, and returns each with the path of its .deb, in the lock's order. A package missing
// while the network is absent skips the test, as Need does.
func (r *Real) FetchSet(t testing.TB, ctx context.Context, name string) ([]debian.LockedPackage, []string) {
	t.Helper()
	set, ok := r.Lock.Sets[name]
	if !ok {
		t.Fatalf("recipes/debian.lock has no set %s", name)
	}
	var pkgs []debian.LockedPackage
	var paths []string
	for _, n := range set {
		lp, ok := r.Lock.Package(n)
		if !ok {
			t.Fatalf("%s is not locked", n)
		}
		p, err := r.Fetcher.FetchLocked(ctx, lp)
		r.Need(t, "package "+n, err)
		pkgs, paths = append(pkgs, lp), append(paths, p)
	}
	return pkgs, paths
}
