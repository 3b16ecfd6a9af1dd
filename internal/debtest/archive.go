package debtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Archive is a small Debian archive served over HTTP and signed with a key made for the test. It
// has two roots, as Debian has: MainURL (the release and its -updates suite) and SecurityURL
// (<codename>-security). Each root serves only its own suites and pool.
type Archive struct {
	Key *openpgp.Entity

	mu    sync.Mutex
	files map[string][]byte // "debian/dists/..." or "debian-security/pool/..." -> body
	hits  map[string]int
	lost  []string // paths asked for that the archive lacked, in order
	srv   *httptest.Server
	now   time.Time
}

// Pkg is one package of a suite. Its .deb holds Files, by default one file,
// /usr/share/<name>/version, whose body is the version.
type Pkg struct {
	Name, Version string
	Arch          string // default "amd64"
	Depends       string
	Source        string // the source package; default Name (as Debian reads a missing Source field)
	Files         []File // the .deb's data.tar
}

// Suite is one suite as Publish writes it.
type Suite struct {
	Name       string // "trixie", "trixie-updates", "trixie-security"
	Date       time.Time
	ValidUntil time.Time // zero: none (as trixie's own InRelease)
	Packages   []Pkg
}

// NewArchive starts an empty archive; now is the time signatures and keys are made at.
func NewArchive(t testing.TB, now time.Time) *Archive {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return now.Add(-24 * time.Hour) }}
	key, err := openpgp.NewEntity("test archive", "", "archive@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := &Archive{Key: key, files: map[string][]byte{}, hits: map[string]int{}, now: now}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		p := strings.TrimPrefix(r.URL.Path, "/")
		a.hits[p]++
		b, ok := a.files[p]
		if !ok {
			a.lost = append(a.lost, p)
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// MainURL is the main archive's root.
func (a *Archive) MainURL() string { return a.srv.URL + "/debian" }

// SecurityURL is the security archive's root.
func (a *Archive) SecurityURL() string { return a.srv.URL + "/debian-security" }

// Keyring is the archive's public key, as recipes/keys holds Debian's.
func (a *Archive) Keyring(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := a.Key.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Hits is how often path (under the server, e.g. "debian-security/pool/...") was asked for.
func (a *Archive) Hits(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[path]
}

// Lost lists the paths asked for that the archive did not have, in the order asked.
func (a *Archive) Lost() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.lost...)
}

// Root is the folder under the server serving suite: "debian-security/" for <codename>-security,
// else "debian/". Root(suite)+PoolPath(p) is the path Hits counts for p's .deb.
func Root(suite string) string {
	if strings.HasSuffix(suite, "-security") {
		return "debian-security/"
	}
	return "debian/"
}

// PoolPath is where a package's .deb lives, relative to its archive's root: in the folder of its
// source package, under the source's first letter ("lib" sources under four), and named without
// the version's epoch, as Debian's archive lays out its pool.
func PoolPath(p Pkg) string {
	v := p.Version
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	src := source(p)
	prefix := src[:1]
	if strings.HasPrefix(src, "lib") && len(src) > 3 {
		prefix = src[:4]
	}
	return fmt.Sprintf("pool/main/%s/%s/%s_%s_%s.deb", prefix, src, p.Name, v, arch(p))
}

func source(p Pkg) string {
	if p.Source == "" {
		return p.Name
	}
	return p.Source
}

func arch(p Pkg) string {
	if p.Arch == "" {
		return "amd64"
	}
	return p.Arch
}

// control is p's control file (deb-control(5)); its Packages stanza adds Filename, Size, SHA256.
func control(p Pkg) string {
	c := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", p.Name, p.Version, arch(p))
	if p.Source != "" {
		c += "Source: " + p.Source + "\n"
	}
	if p.Depends != "" {
		c += "Depends: " + p.Depends + "\n"
	}
	return c + "Maintainer: test <test@example.org>\nDescription: test package\n"
}

// DebOf is the .deb Publish serves for p. It depends on p alone, so a test can compute the digest
// the archive lists.
func DebOf(t testing.TB, p Pkg) []byte {
	t.Helper()
	files := p.Files
	if files == nil {
		files = []File{{Name: "./usr/share/" + p.Name + "/version", Body: p.Version}}
	}
	return Deb(t, control(p), ".xz", ".xz", nil, files)
}

// Publish (re)writes each suite: its packages' .debs in the pool, main/binary-amd64/Packages.xz,
// and an InRelease listing it, signed with Key.
func (a *Archive) Publish(t testing.TB, suites ...Suite) {
	t.Helper()
	for _, s := range suites {
		r := Root(s.Name)
		var idx strings.Builder
		for _, p := range s.Packages {
			deb := DebOf(t, p)
			pool := PoolPath(p)
			sum := sha256.Sum256(deb)
			fmt.Fprintf(&idx, "%sFilename: %s\nSize: %d\nSHA256: %s\n\n", control(p), pool, len(deb), hex.EncodeToString(sum[:]))
			a.set(r+pool, deb)
		}
		xz := Compress(t, []byte(idx.String()), ".xz")
		xsum := sha256.Sum256(xz)
		dist := r + "dists/" + s.Name + "/"
		a.set(dist+"main/binary-amd64/Packages.xz", xz)

		var rel strings.Builder
		fmt.Fprintf(&rel, "Origin: Debian\nLabel: Debian\nSuite: %s\nCodename: %s\n", strings.Replace(s.Name, "trixie", "stable", 1), s.Name)
		fmt.Fprintf(&rel, "Date: %s\n", s.Date.UTC().Format(time.RFC1123))
		if !s.ValidUntil.IsZero() {
			fmt.Fprintf(&rel, "Valid-Until: %s\n", s.ValidUntil.UTC().Format(time.RFC1123))
		}
		fmt.Fprintf(&rel, "Architectures: amd64\nComponents: main\nSHA256:\n %s %d main/binary-amd64/Packages.xz\n", hex.EncodeToString(xsum[:]), len(xz))
		a.set(dist+"InRelease", a.sign(t, rel.String()))
	}
}

func (a *Archive) sign(t testing.TB, text string) []byte {
	t.Helper()
	return Clearsign(t, text, a.now, a.Key)
}

// Clearsign signs text as an InRelease is signed (RFC 4880 §7 cleartext signature), once by each
// key, at time now.
func Clearsign(t testing.TB, text string, now time.Time, keys ...*openpgp.Entity) []byte {
	t.Helper()
	var priv []*packet.PrivateKey
	for _, e := range keys {
		priv = append(priv, e.PrivateKey)
	}
	var b bytes.Buffer
	w, err := clearsign.EncodeMulti(&b, priv, &packet.Config{Time: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (a *Archive) set(path string, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = body
}

// Paths lists what the archive serves, sorted (for failure messages).
func (a *Archive) Paths() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for p := range a.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
