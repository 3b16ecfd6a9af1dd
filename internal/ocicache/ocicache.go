// Package ocicache keeps the build cache's second level in a registry that speaks the OCI
// distribution API (oras-go): a team's builders share the stages and downloads one of them made.
//
// Each entry is an OCI artifact under a tag made from the local cache's own key:
//
//	stage-<kind>-<key>   artifactType application/vnd.genai-build.stage.v1, one layer: the stage
//	                     folder as a tar (cache.WriteStageArchive), its manifest of file digests inside
//	blob-<sha256>        artifactType application/vnd.genai-build.blob.v1, one layer: the blob
//
// A stage is one tar layer, not one layer per file: a stage holds up to thousands of files (the
// kernel's modules), and one layer is one request each way, streamed from and to disk, where a
// layer per file would be thousands. The tar is uncompressed: most of a stage is compressed
// already (initramfs segments, squashfs layers, .ko.xz), and on a CI network the registry is
// near; compressing would cost more time than it saves.
//
// The remote never fails a build. An entry the registry lacks is a miss; a registry that cannot be
// reached, answers with an error or stalls past a timeout is reported once on the log and turned
// off for the rest of the process (every later lookup is a miss, every push skipped); an entry
// whose bytes do not match their digest is refused with a warning, and the cache builds it again.
package ocicache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/genai-os/genai-build/internal/cache"
)

// EnvVar names the remote when --cache-remote is not given.
const EnvVar = "GENAI_BUILD_CACHE_REMOTE"

// The artifact and layer media types of the entries (RFC 6838 names, as the OCI image spec asks).
const (
	StageArtifactType = "application/vnd.genai-build.stage.v1"
	BlobArtifactType  = "application/vnd.genai-build.blob.v1"
	stageLayerType    = ocispec.MediaTypeImageLayer // an uncompressed tar
	blobLayerType     = "application/octet-stream"
)

// created is the manifests' creation annotation: fixed, so that equal entries have equal
// manifests (oras would stamp the time of the push).
const created = "1970-01-01T00:00:00Z"

// Options tune a Remote; the zero value gives the defaults.
type Options struct {
	// Log receives the warnings (the registry failed and was turned off, an entry was refused).
	Log *slog.Logger
	// ConnectTimeout bounds a TCP connection and TLS handshake (default 5 s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds a request without a large body, and the wait for any answer's
	// headers (default 15 s).
	RequestTimeout time.Duration
	// IdleTimeout bounds a pause in a download, and MinRate (bytes/s) the time an upload may take
	// besides RequestTimeout (defaults 30 s and 1 MiB/s): large layers take as long as they need
	// while they move.
	IdleTimeout time.Duration
	MinRate     int64
	// Credentials gives the registry's credentials; nil reads the Docker config file
	// (DockerConfig), as docker, oras and other OCI tools do.
	Credentials credentials.Store
	// Getenv is where DOCKER_CONFIG and HOME are read (nil: no Docker config).
	Getenv func(string) string
}

// Remote is a cache.Remote in an OCI repository.
type Remote struct {
	url  string // oci://host/repo, for messages
	repo *remote.Repository
	opts Options

	off  atomic.Bool
	once sync.Once

	stagesPulled, stagesPushed, blobsPulled, blobsPushed atomic.Int64
}

var _ cache.Remote = (*Remote)(nil)

// Ref is a parsed oci://HOST[:PORT]/REPO.
type Ref struct {
	Host      string // host[:port]
	Repo      string
	PlainHTTP bool // for a loopback registry, as docker treats localhost as insecure
}

// ParseRef parses oci://HOST[:PORT]/REPO. The registry is reached over HTTPS, but for localhost
// and loopback addresses, which are reached over plain HTTP (as docker does).
func ParseRef(s string) (Ref, error) {
	rest, ok := strings.CutPrefix(s, "oci://")
	if !ok {
		return Ref{}, fmt.Errorf("remote cache %q: want oci://HOST[:PORT]/REPO (e.g. oci://127.0.0.1:5000/genai-build/cache)", s)
	}
	host, repo, ok := strings.Cut(rest, "/")
	if !ok || host == "" || repo == "" {
		return Ref{}, fmt.Errorf("remote cache %q: want oci://HOST[:PORT]/REPO, with a repository", s)
	}
	if strings.ContainsAny(repo, ":@") {
		return Ref{}, fmt.Errorf("remote cache %q: name a repository, without a tag or digest (the cache makes its own tags)", s)
	}
	ref, err := registry.ParseReference(host + "/" + repo)
	if err != nil {
		return Ref{}, fmt.Errorf("remote cache %q: %w", s, err)
	}
	return Ref{Host: ref.Registry, Repo: ref.Repository, PlainHTTP: isLoopback(ref.Registry)}, nil
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// DockerConfig is the Docker config file that holds registry credentials: $DOCKER_CONFIG/config.json,
// else ~/.docker/config.json ("" when neither can be named).
func DockerConfig(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".docker", "config.json")
	}
	return ""
}

// New returns the remote cache at oci://HOST[:PORT]/REPO. It does not contact the registry: the
// first lookup does, and a failure then only turns the remote off.
func New(spec string, opts Options) (*Remote, error) {
	ref, err := ParseRef(spec)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.ConnectTimeout = orDefault(opts.ConnectTimeout, 5*time.Second)
	opts.RequestTimeout = orDefault(opts.RequestTimeout, 15*time.Second)
	opts.IdleTimeout = orDefault(opts.IdleTimeout, 30*time.Second)
	if opts.MinRate <= 0 {
		opts.MinRate = 1 << 20
	}
	store := opts.Credentials
	if store == nil {
		store = credentials.NewMemoryStore()
		if opts.Getenv != nil {
			if p := DockerConfig(opts.Getenv); p != "" {
				s, err := credentials.NewStore(p, credentials.StoreOptions{})
				if err != nil {
					return nil, fmt.Errorf("remote cache %s: credentials from %s: %w", spec, p, err)
				}
				store = s
			}
		}
	}
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.RequestTimeout,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	repo := &remote.Repository{
		Reference: registry.Reference{Registry: ref.Host, Repository: ref.Repo},
		PlainHTTP: ref.PlainHTTP,
		Client: &auth.Client{
			Client:     &http.Client{Transport: transport},
			Cache:      auth.NewCache(),
			Credential: credentials.Credential(store),
			Header:     http.Header{"User-Agent": {"genai-build"}},
		},
	}
	return &Remote{url: "oci://" + ref.Host + "/" + ref.Repo, repo: repo, opts: opts}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// String is the remote's oci:// address.
func (r *Remote) String() string { return r.url }

// Stats counts what the remote gave and took.
type Stats struct {
	StagesPulled, StagesPushed, BlobsPulled, BlobsPushed int64
	Off                                                  bool // turned off after a failure
}

// Stats returns the counts so far.
func (r *Remote) Stats() Stats {
	return Stats{r.stagesPulled.Load(), r.stagesPushed.Load(), r.blobsPulled.Load(), r.blobsPushed.Load(), r.off.Load()}
}

var tagChars = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) // the distribution spec's tag grammar

// StageTag is the tag of stage kind/key.
func StageTag(kind, key string) (string, error) { return tag("stage-" + kind + "-" + key) }

// BlobTag is the tag of the blob with this SHA-256.
func BlobTag(sha string) (string, error) { return tag("blob-" + sha) }

func tag(t string) (string, error) {
	if !tagChars.MatchString(t) {
		return "", fmt.Errorf("%q is not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", t)
	}
	return t, nil
}

// fail turns the remote off after its first failure and says so, once.
func (r *Remote) fail(what string, err error) {
	r.off.Store(true)
	r.once.Do(func() {
		kind := "failed"
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
			kind = "unreachable"
		}
		r.opts.Log.Warn(fmt.Sprintf("remote cache %s: %s (%s: %v); building locally, remote cache off for this build", r.url, kind, what, err))
	})
}

// OpenStage implements cache.Remote.
func (r *Remote) OpenStage(kind, key string) io.ReadCloser {
	t, err := StageTag(kind, key)
	if err != nil {
		return nil
	}
	rc := r.open(t, StageArtifactType)
	if rc != nil {
		r.stagesPulled.Add(1)
	}
	return rc
}

// OpenBlob implements cache.Remote.
func (r *Remote) OpenBlob(sha string, size int64) io.ReadCloser {
	t, err := BlobTag(sha)
	if err != nil {
		return nil
	}
	rc := r.open(t, BlobArtifactType)
	if rc != nil {
		r.blobsPulled.Add(1)
	}
	return rc
}

// maxManifest bounds a manifest read (the distribution spec lets registries refuse over 4 MiB).
const maxManifest = 4 << 20

// open resolves the tag to its manifest and returns its one layer, checked as it is read.
func (r *Remote) open(tag, artifactType string) io.ReadCloser {
	if r.off.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.RequestTimeout)
	defer cancel()
	desc, rc, err := r.repo.FetchReference(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil
	}
	if err != nil {
		r.fail("GET manifest "+tag, err)
		return nil
	}
	if desc.Size > maxManifest {
		rc.Close()
		r.refuse(tag, fmt.Sprintf("manifest of %d bytes", desc.Size))
		return nil
	}
	data, err := content.ReadAll(rc, desc) // checks its size and digest
	rc.Close()
	if err != nil {
		if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) || errors.Is(err, io.ErrUnexpectedEOF) {
			r.refuse(tag, "manifest: "+err.Error())
		} else {
			r.fail("GET manifest "+tag, err)
		}
		return nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil || m.ArtifactType != artifactType || len(m.Layers) != 1 {
		r.refuse(tag, "not a "+artifactType+" manifest with one layer")
		return nil
	}
	layer := m.Layers[0]
	if layer.Digest.Algorithm() != digest.SHA256 || layer.Digest.Validate() != nil || layer.Size < 0 {
		r.refuse(tag, "layer digest "+string(layer.Digest))
		return nil
	}
	// The layer's request lives as long as the reader: it is cancelled when the download pauses
	// longer than IdleTimeout, or when the reader is closed.
	// The wait for its headers is bounded by the transport's ResponseHeaderTimeout.
	lctx, lcancel := context.WithCancel(context.Background())
	body, err := r.repo.Blobs().Fetch(lctx, layer)
	if err != nil {
		lcancel()
		if errors.Is(err, errdef.ErrNotFound) {
			r.refuse(tag, "its layer is missing")
		} else {
			r.fail("GET layer of "+tag, err)
		}
		return nil
	}
	idle := time.AfterFunc(r.opts.IdleTimeout, lcancel)
	return &layerReader{r: r, tag: tag, body: body, want: layer, left: layer.Size, h: sha256.New(), idle: idle,
		timeout: r.opts.IdleTimeout, cancel: func() { idle.Stop(); lcancel() }}
}

// refuse reports an entry that does not hold what it claims; the remote stays on.
func (r *Remote) refuse(tag, reason string) {
	r.opts.Log.Warn(fmt.Sprintf("remote cache %s: entry %s refused (%s); building locally", r.url, tag, reason))
}

// layerReader reads a layer and fails at its end unless it had exactly the size and SHA-256 of
// its descriptor.
type layerReader struct {
	r       *Remote
	tag     string
	body    io.ReadCloser
	want    ocispec.Descriptor
	left    int64
	h       hash.Hash
	idle    *time.Timer
	timeout time.Duration
	cancel  func()
	err     error
}

func (l *layerReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	var n int
	var err error
	if len(p) > 0 {
		n, err = l.body.Read(p)
		l.idle.Reset(l.timeout)
		l.h.Write(p[:n])
		l.left -= int64(n)
	}
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		l.r.fail("GET layer of "+l.tag, err)
		l.err = err
	case l.left > 0 && errors.Is(err, io.EOF):
		l.err = fmt.Errorf("%s: layer ended %d bytes short: %w", l.tag, l.left, io.ErrUnexpectedEOF)
		l.r.refuse(l.tag, l.err.Error())
	case l.left == 0:
		var one [1]byte
		if m, _ := l.body.Read(one[:]); m > 0 {
			l.err = fmt.Errorf("%s: layer longer than its %d bytes", l.tag, l.want.Size)
		} else if got := "sha256:" + hex.EncodeToString(l.h.Sum(nil)); got != string(l.want.Digest) {
			l.err = fmt.Errorf("%s: layer has %s, its manifest says %s", l.tag, got, l.want.Digest)
		} else {
			l.err = io.EOF
		}
		if l.err != io.EOF {
			l.r.refuse(l.tag, l.err.Error())
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, l.err
}

func (l *layerReader) Close() error {
	l.cancel()
	return l.body.Close()
}

// PushStage implements cache.Remote.
func (r *Remote) PushStage(kind, key string, archive func() (cache.Content, func(), error)) {
	t, err := StageTag(kind, key)
	if err != nil || r.off.Load() || r.has(t) {
		return
	}
	c, release, err := archive()
	if err != nil {
		r.opts.Log.Warn(fmt.Sprintf("remote cache %s: not pushing %s: %v", r.url, t, err))
		return
	}
	defer release()
	if r.push(t, StageArtifactType, stageLayerType, c) {
		r.stagesPushed.Add(1)
	}
}

// PushBlob implements cache.Remote.
func (r *Remote) PushBlob(sha string, blob cache.Content) {
	t, err := BlobTag(sha)
	if err != nil || r.off.Load() || r.has(t) {
		return
	}
	if r.push(t, BlobArtifactType, blobLayerType, blob) {
		r.blobsPushed.Add(1)
	}
}

// has says whether the registry holds the tag (true also when it failed: nothing is pushed then).
func (r *Remote) has(tag string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.RequestTimeout)
	defer cancel()
	_, err := r.repo.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return false
	}
	if err != nil {
		r.fail("HEAD manifest "+tag, err)
	}
	return true
}

// push uploads the layer (unless the registry has it) and the manifest under the tag.
func (r *Remote) push(tag, artifactType, layerType string, c cache.Content) bool {
	layer := ocispec.Descriptor{MediaType: layerType, Digest: digest.NewDigestFromEncoded(digest.SHA256, c.SHA256), Size: c.Size}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.RequestTimeout+time.Duration(c.Size/r.opts.MinRate)*time.Second)
	defer cancel()
	exists, err := r.repo.Blobs().Exists(ctx, layer)
	if err != nil {
		r.fail("HEAD layer of "+tag, err)
		return false
	}
	if !exists {
		f, err := c.Open()
		if err != nil {
			r.opts.Log.Warn(fmt.Sprintf("remote cache %s: not pushing %s: %v", r.url, tag, err))
			return false
		}
		err = r.repo.Blobs().Push(ctx, layer, f)
		f.Close()
		if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			r.fail("PUT layer of "+tag, err)
			return false
		}
	}
	mctx, mcancel := context.WithTimeout(context.Background(), r.opts.RequestTimeout)
	defer mcancel()
	desc, err := oras.PackManifest(mctx, r.repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layer}, ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: created}})
	if err == nil {
		err = r.repo.Tag(mctx, desc, tag)
	}
	if err != nil {
		r.fail("PUT manifest "+tag, err)
		return false
	}
	return true
}
