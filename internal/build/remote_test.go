package build

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/ocicache"
	"github.com/genai-os/genai-build/internal/ocicache/ocitest"
)

// The shared cache, for real: a distribution registry on 127.0.0.1. Its blobs are seeded from the
// user's downloads (pushed as a build that downloaded them would); a build on an empty local cache
// takes its downloads from the registry, builds every stage and pushes it; a second build on
// another empty local cache then builds nothing and writes the same image. No Debian mirror is
// reachable in either build: every input comes through the registry.
func TestRemoteCacheWarmsEmptyCache(t *testing.T) {
	want := warmServer(t)
	reg, err := ocitest.Start(t.TempDir())
	if errors.Is(err, ocitest.ErrNoBinary) {
		t.Skip("SKIPPING THE SHARED-CACHE BUILD TEST: " + err.Error() + "; .ci/run installs it")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	spec := "oci://" + reg.Host + "/genai-build/cache"
	user, err := cache.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	seed := newRemote(t, spec, io.Discard)
	for _, in := range want.ManifestData.Inputs {
		if !strings.HasPrefix(in.From, "debian:") {
			continue
		}
		p := (&cache.Cache{Dir: user}).BlobPath(in.SHA256)
		seed.PushBlob(in.SHA256, cache.Content{Size: in.Size, SHA256: in.SHA256, Open: func() (io.ReadCloser, error) { return os.Open(p) }})
	}
	if s := seed.Stats(); s.Off || s.BlobsPushed == 0 {
		t.Fatalf("seeding the registry: %+v", s)
	}

	first, r1 := remoteBuild(t, spec)
	if s := r1.Stats(); s.BlobsPulled == 0 || s.StagesPushed == 0 || s.StagesPulled != 0 || s.Off {
		t.Errorf("first build: %+v, want downloads pulled and stages pushed", s)
	}

	start := time.Now()
	second, r2 := remoteBuild(t, spec)
	took := time.Since(start)
	s := r2.Stats()
	t.Logf("second build, empty local cache, warm registry: %.1f s, %+v", took.Seconds(), s)
	if len(second.CacheMisses) != 0 {
		t.Errorf("second build built %v; want every stage from the registry", second.CacheMisses)
	}
	if !slices.Contains(second.CacheHits, "kernel-unpack") || s.StagesPulled < int64(len(first.CacheMisses)) || s.StagesPushed+s.BlobsPushed != 0 {
		t.Errorf("second build: hits %v, %+v; want the first build's %d stages pulled, nothing pushed", second.CacheHits, s, len(first.CacheMisses))
	}
	if first.SHA256 != second.SHA256 || first.SHA256 != want.SHA256 {
		t.Errorf("images: first %s, second %s, user's cache %s; want one", first.SHA256, second.SHA256, want.SHA256)
	}
}

func newRemote(t *testing.T, spec string, log io.Writer) *ocicache.Remote {
	t.Helper()
	r, err := ocicache.New(spec, ocicache.Options{Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// remoteBuild builds the server edition on an empty local cache reading through the registry,
// with no Debian mirror to download from; a warning from the cache or the remote fails the test.
func remoteBuild(t *testing.T, spec string) (*Result, *ocicache.Remote) {
	t.Helper()
	var log lockedBuffer
	r := newRemote(t, spec, &log)
	logger := slog.New(slog.NewTextHandler(&log, nil))
	c := &cache.Cache{Dir: t.TempDir(), Log: logger, Remote: r}
	nowhere := debian.Mirror{URL: "http://127.0.0.1:1", From: "test: every download comes from the registry"}
	res, err := Run(context.Background(), Options{Root: filepath.Join("..", ".."), Edition: "server", OutDir: t.TempDir(), Cache: c,
		Mirror: nowhere, Security: nowhere, SourceDate: time.Unix(healDate, 0), Log: logger})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "level=WARN") {
		t.Errorf("warnings:\n%s", log.String())
	}
	return res, r
}

// lockedBuffer collects the log of a build whose steps run concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
