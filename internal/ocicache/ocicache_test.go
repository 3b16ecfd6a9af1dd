package ocicache_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/ocicache"
	"github.com/genai-os/genai-build/internal/ocicache/ocitest"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  ocicache.Ref
		error string
	}{
		{in: "oci://127.0.0.1:5000/genai/cache", want: ocicache.Ref{Host: "127.0.0.1:5000", Repo: "genai/cache", PlainHTTP: true}},
		{in: "oci://localhost:5000/cache", want: ocicache.Ref{Host: "localhost:5000", Repo: "cache", PlainHTTP: true}},
		{in: "oci://[::1]:5000/cache", want: ocicache.Ref{Host: "[::1]:5000", Repo: "cache", PlainHTTP: true}},
		{in: "oci://ghcr.example/team/genai-cache", want: ocicache.Ref{Host: "ghcr.example", Repo: "team/genai-cache"}},
		{in: "oci://10.0.0.5:5000/cache", want: ocicache.Ref{Host: "10.0.0.5:5000", Repo: "cache"}},
		{in: "https://127.0.0.1:5000/cache", error: "want oci://"},
		{in: "oci://127.0.0.1:5000", error: "with a repository"},
		{in: "oci://127.0.0.1:5000/cache:latest", error: "without a tag"},
		{in: "oci://127.0.0.1:5000/Cache", error: "invalid"},
	} {
		got, err := ocicache.ParseRef(tc.in)
		if tc.error != "" {
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("ParseRef(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.error)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestTags(t *testing.T) {
	key := strings.Repeat("ab", 32)
	if got, err := ocicache.StageTag("u-root-bb", key); err != nil || got != "stage-u-root-bb-"+key {
		t.Errorf("StageTag = %q, %v", got, err)
	}
	if got, err := ocicache.BlobTag(key); err != nil || got != "blob-"+key {
		t.Errorf("BlobTag = %q, %v", got, err)
	}
	for _, kind := range []string{"a/b", "a:b", strings.Repeat("k", 60)} { // 6+60+1+64 > 128
		if got, err := ocicache.StageTag(kind, key); err == nil {
			t.Errorf("StageTag(%q) = %q, want an error", kind, got)
		}
	}
}

func TestDockerConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := ocicache.DockerConfig(env(map[string]string{"HOME": "/h"})); got != "/h/.docker/config.json" {
		t.Errorf("got %q", got)
	}
	if got := ocicache.DockerConfig(env(map[string]string{"HOME": "/h", "DOCKER_CONFIG": "/d"})); got != "/d/config.json" {
		t.Errorf("got %q", got)
	}
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// newCache is an empty cache reading through a remote at spec.
func newCache(t *testing.T, spec string, opts ocicache.Options) (*cache.Cache, *ocicache.Remote, *logBuffer) {
	t.Helper()
	log := &logBuffer{}
	opts.Log = slog.New(slog.NewTextHandler(log, nil))
	r, err := ocicache.New(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &cache.Cache{Dir: t.TempDir(), Log: opts.Log, Remote: r}, r, log
}

// useCache does what a build does with its cache: looks a stage up, builds and commits it, stores
// a downloaded blob and reads it back, and looks up a blob nobody has.
func useCache(t *testing.T, c *cache.Cache, key string) {
	t.Helper()
	if _, err := c.Stage("test", key); !errors.Is(err, cache.ErrMissing) {
		t.Fatalf("Stage = %v, want ErrMissing", err)
	}
	if _, err := c.CommitStage("test", key, fillStage); err != nil {
		t.Fatalf("CommitStage: %v", err)
	}
	if _, err := c.Stage("test", key); err != nil {
		t.Fatalf("Stage after commit: %v", err)
	}
	_, sha, err := c.PutBlob("test blob", strings.NewReader("blob "+key), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutBlob("test blob", strings.NewReader("blob "+key), sha); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckBlob(strings.Repeat("0", 64), -1); !errors.Is(err, cache.ErrMissing) {
		t.Fatalf("CheckBlob = %v, want ErrMissing", err)
	}
}

func fillStage(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "deeper", "big"), bytes.Repeat([]byte("genai"), 300000), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		return err
	}
	return os.Symlink("sub/deeper/big", filepath.Join(dir, "link"))
}

// A registry on a closed port: the first lookup turns the remote off with one warning, and
// everything else works from the local cache at once.
func TestClosedPortFallsBack(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, r, log := newCache(t, "oci://"+addr+"/cache", ocicache.Options{})
	start := time.Now()
	useCache(t, c, strings.Repeat("1", 64))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with the registry's port closed", d)
	}
	if !r.Stats().Off {
		t.Error("the remote is still on")
	}
	if n := strings.Count(log.String(), "unreachable"); n != 1 {
		t.Errorf("%d warnings saying unreachable, want 1:\n%s", n, log)
	}
}

// A registry that accepts connections and never answers: the wait is bounded by the request
// timeout, once; the build goes on locally.
func TestHangingRegistryFallsBack(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, r, log := newCache(t, "oci://"+srv.Listener.Addr().String()+"/cache", ocicache.Options{RequestTimeout: 500 * time.Millisecond})
	start := time.Now()
	useCache(t, c, strings.Repeat("2", 64))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a hanging registry (request timeout 0.5 s)", d)
	}
	if !r.Stats().Off {
		t.Error("the remote is still on")
	}
	if n := strings.Count(log.String(), "remote cache oci://"); n != 1 || !strings.Contains(log.String(), "building locally") {
		t.Errorf("want one warning saying it builds locally:\n%s", log)
	}
}

// startRegistry runs the real distribution registry; only its absence skips.
func startRegistry(t *testing.T) *ocitest.Registry {
	t.Helper()
	reg, err := ocitest.Start(t.TempDir())
	if errors.Is(err, ocitest.ErrNoBinary) {
		t.Skip("SKIPPING THE REAL-REGISTRY TEST: " + err.Error() + "; .ci/run installs it")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// A stage and a blob written by one cache are read by another through a real registry, and
// arrive whole; the second cache pushes nothing back.
func TestRegistryRoundTrip(t *testing.T) {
	reg := startRegistry(t)
	spec := "oci://" + reg.Host + "/genai/cache"
	key := strings.Repeat("3", 64)
	a, ra, _ := newCache(t, spec, ocicache.Options{})
	useCache(t, a, key)
	if s := ra.Stats(); s.StagesPushed != 1 || s.BlobsPushed != 1 || s.Off {
		t.Fatalf("pushed %+v, want one stage and one blob", s)
	}
	b, rb, log := newCache(t, spec, ocicache.Options{})
	dir, err := b.Stage("test", key)
	if err != nil {
		t.Fatalf("Stage through the registry: %v\n%s", err, log)
	}
	if dir != b.StageDir("test", key) {
		t.Errorf("stage at %s", dir)
	}
	for _, f := range []string{"sub/deeper/big", "tool", "link", cache.ManifestName} {
		want, _ := os.ReadFile(filepath.Join(a.StageDir("test", key), f))
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs (%v)", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "tool")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("tool's mode %v (%v), want 0755", fi.Mode(), err)
	}
	blob := "blob " + key
	sha := sha256hex(blob)
	p, err := b.CheckBlob(sha, int64(len(blob)))
	if err != nil {
		t.Fatalf("CheckBlob through the registry: %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != blob {
		t.Errorf("blob %q", got)
	}
	if s := rb.Stats(); s.StagesPulled != 1 || s.BlobsPulled != 1 || s.StagesPushed+s.BlobsPushed != 0 || s.Off {
		t.Errorf("stats %+v, want one stage and one blob pulled, nothing pushed", s)
	}
	if log.String() != "" {
		t.Errorf("warnings:\n%s", log)
	}
}

// A registry serving a stage whose layer changed on its disk: the layer fails its digest, the
// stage is refused with a warning and built locally; the remote stays on for other entries.
func TestRegistryTamperedLayer(t *testing.T) {
	reg := startRegistry(t)
	spec := "oci://" + reg.Host + "/genai/cache"
	key := strings.Repeat("4", 64)
	a, _, _ := newCache(t, spec, ocicache.Options{})
	if _, err := a.CommitStage("test", key, fillStage); err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if _, err := cache.WriteStageArchive(&tar, a.StageDir("test", key)); err != nil {
		t.Fatal(err)
	}
	layer := reg.BlobPath(sha256hex(tar.String()))
	data, err := os.ReadFile(layer)
	if err != nil {
		t.Fatalf("the stage's layer is not where the registry keeps blobs: %v", err)
	}
	data[len(data)/3] ^= 0xff // inside the big file's content: a valid tar, other bytes
	if err := os.WriteFile(layer, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b, rb, log := newCache(t, spec, ocicache.Options{})
	if _, err := b.Stage("test", key); !errors.Is(err, cache.ErrMissing) {
		t.Fatalf("Stage = %v, want ErrMissing", err)
	}
	if !strings.Contains(log.String(), "refused") || !strings.Contains(log.String(), "stage-test-"+key) {
		t.Errorf("no warning about the tampered entry:\n%s", log)
	}
	if _, err := os.Stat(b.StageDir("test", key)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the tampered stage was committed: %v", err)
	}
	if rb.Stats().Off {
		t.Error("one bad entry turned the remote off")
	}
	if _, err := b.CommitStage("test", key, fillStage); err != nil {
		t.Fatalf("local build after the refusal: %v", err)
	}
}

// An entry whose layer matches its OCI digest but whose files do not match the stage manifest
// inside it (a registry that was pushed a forged archive) is refused by the cache.
func TestRegistryForgedStage(t *testing.T) {
	reg := startRegistry(t)
	spec := "oci://" + reg.Host + "/genai/cache"
	key := strings.Repeat("5", 64)
	a, ra, _ := newCache(t, spec, ocicache.Options{})
	a.Remote = nil
	dir, err := a.CommitStage("test", key, fillStage)
	if err != nil {
		t.Fatal(err)
	}
	// Change a file after its manifest was written, then push the folder as it is.
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\nrm -rf /\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if _, err := cache.WriteStageArchive(&tar, dir); err != nil {
		t.Fatal(err)
	}
	ra.PushStage("test", key, func() (cache.Content, func(), error) {
		return cache.Content{Size: int64(tar.Len()), SHA256: sha256hex(tar.String()),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tar.Bytes())), nil }}, func() {}, nil
	})
	if ra.Stats().StagesPushed != 1 {
		t.Fatalf("forged stage not pushed: %+v", ra.Stats())
	}
	b, _, log := newCache(t, spec, ocicache.Options{})
	if _, err := b.Stage("test", key); !errors.Is(err, cache.ErrMissing) {
		t.Fatalf("Stage = %v, want ErrMissing", err)
	}
	if !strings.Contains(log.String(), "remote stage test/"+key) || !strings.Contains(log.String(), "tool: differs from its manifest record") {
		t.Errorf("no warning about the forged stage:\n%s", log)
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// A registry that asks for a login: the credentials come from the Docker config file that
// $DOCKER_CONFIG names, as `docker login` writes it; without them the remote is off after one
// warning and the cache goes on locally.
func TestRegistryLoginFromDockerConfig(t *testing.T) {
	reg, err := ocitest.StartWithLogin(t.TempDir(), "ci", "s3cret")
	if errors.Is(err, ocitest.ErrNoBinary) {
		t.Skip("SKIPPING THE REAL-REGISTRY TEST: " + err.Error() + "; .ci/run installs it")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	spec := "oci://" + reg.Host + "/genai/cache"
	docker := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:s3cret"))
	if err := os.WriteFile(filepath.Join(docker, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	anon, ra, log := newCache(t, spec, ocicache.Options{Getenv: env(map[string]string{"HOME": t.TempDir()})})
	useCache(t, anon, strings.Repeat("6", 64))
	if s := ra.Stats(); !s.Off || s.StagesPushed != 0 || !strings.Contains(log.String(), "credential not found") {
		t.Errorf("without credentials: %+v, want off with a warning:\n%s", s, log)
	}

	c, r, log := newCache(t, spec, ocicache.Options{Getenv: env(map[string]string{"DOCKER_CONFIG": docker})})
	useCache(t, c, strings.Repeat("6", 64))
	if s := r.Stats(); s.Off || s.StagesPushed != 1 || s.BlobsPushed != 1 {
		t.Errorf("with the Docker config's credentials: %+v, want one stage and one blob pushed:\n%s", s, log)
	}
}
