package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testDate = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// testImage writes a slot image of size bytes (random, seeded) and returns its path and bytes.
func testImage(t testing.TB, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	p := filepath.Join(t.TempDir(), "slot.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func identity(version string) Manifest {
	return Manifest{Edition: "embedded", Arch: "amd64", Version: version, BuildID: strings.Repeat("ab", 32), Created: testDate}
}

// makeBundle writes a bundle of a size-byte image and returns its bytes and the image.
func makeBundle(t testing.TB, size int, version string, key ed25519.PrivateKey) ([]byte, []byte) {
	t.Helper()
	p, img := testImage(t, size)
	var buf bytes.Buffer
	if _, err := Write(&buf, p, identity(version), key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), img
}

// parts are a bundle's entries, to put together again altered.
type parts struct{ magic, manifest, sig, image []byte }

func split(t testing.TB, b []byte) parts {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out [4][]byte
	for i := range out {
		if _, err := tr.Next(); err != nil {
			t.Fatal(err)
		}
		out[i], _ = io.ReadAll(tr)
	}
	return parts{out[0], out[1], out[2], out[3]}
}

func (p parts) join(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, d := range [][]byte{p.magic, p.manifest, p.sig, p.image} {
		name := []string{NameMagic, NameManifest, NameSig, NameImage}[i]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(d)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		tw.Write(d)
	}
	tw.Close()
	return buf.Bytes()
}

// resign signs manifest bytes with key, as Write does.
func resign(t testing.TB, manifest []byte, key ed25519.PrivateKey) []byte {
	t.Helper()
	pub := key.Public().(ed25519.PublicKey)
	sj, _ := json.Marshal([]Signature{{KeyID: KeyID(pub), Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, manifest))}})
	return sj
}

// target is a slot file filled with 0xAA, the pattern a test checks is untouched.
func target(t testing.TB, size int) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "slot-b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(bytes.Repeat([]byte{0xAA}, size)); err != nil {
		t.Fatal(err)
	}
	return f
}

func contents(t testing.TB, f *os.File) []byte {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keyring(keys ...ed25519.PrivateKey) Keyring {
	k := Keyring{}
	for _, key := range keys {
		k.Add(key.Public().(ed25519.PublicKey))
	}
	return k
}

const slotSize = 6 << 20

func policy() Policy {
	return Policy{Keys: keyring(testKey(1)), Edition: "embedded", Arch: "amd64", Version: "1.0.0", TargetSize: slotSize}
}

func TestWriteDeterministic(t *testing.T) {
	p, _ := testImage(t, 3*ChunkSize+123)
	var a, b bytes.Buffer
	if _, err := Write(&a, p, identity("2.0.0"), testKey(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(&b, p, identity("2.0.0"), testKey(1)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two bundles of one image differ")
	}
	tr := tar.NewReader(bytes.NewReader(a.Bytes()))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(testDate) || h.Uid != 0 || h.Mode != 0o644 || h.Uname != "" {
			t.Errorf("%s: header %+v", h.Name, h)
		}
		names = append(names, h.Name)
	}
	if strings.Join(names, " ") != "genai-bundle manifest.json manifest.sig slot.img" {
		t.Errorf("entries %v", names)
	}
	pt := split(t, a.Bytes())
	m, err := ParseManifest(pt.manifest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Compatible != "genai-os/embedded/amd64" || len(m.Image.Chunks) != 4 || m.Image.Size != 3*ChunkSize+123 || m.Image.ChunkSize != 1048576 {
		t.Errorf("manifest %+v", m)
	}
	if string(pt.magic) != "genai-bundle 1\n" {
		t.Errorf("magic %q", pt.magic)
	}
}

func TestInstall(t *testing.T) {
	for _, size := range []int{1, ChunkSize, 3*ChunkSize + 4097} {
		b, img := makeBundle(t, size, "1.1.0", testKey(1))
		tg := target(t, slotSize)
		r, err := Open(bytes.NewReader(b), policy())
		if err != nil {
			t.Fatal(err)
		}
		if r.KeyID != KeyID(testKey(1).Public().(ed25519.PublicKey)) || r.Manifest.Version != "1.1.0" {
			t.Errorf("reader %+v", r)
		}
		var last int64
		calls := 0
		if err := r.Install(tg, func(done, total int64) { last, calls = done, calls+1 }); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		got := contents(t, tg)
		if !bytes.Equal(got[:size], img) || !bytes.Equal(got[size:], bytes.Repeat([]byte{0xAA}, slotSize-size)) {
			t.Errorf("size %d: the slot does not hold the image followed by what was there", size)
		}
		if last != int64(size) || calls != (size+ChunkSize-1)/ChunkSize {
			t.Errorf("size %d: progress %d after %d calls", size, last, calls)
		}
	}
}

// TestRefused: each bundle is refused before a byte is written.
func TestRefused(t *testing.T) {
	good, _ := makeBundle(t, 2*ChunkSize+5, "2.0.0", testKey(1))
	gp := split(t, good)
	other, _ := makeBundle(t, 2*ChunkSize+5, "2.0.0", testKey(2))
	altered := gp
	altered.manifest = bytes.Replace(gp.manifest, []byte(`"2.0.0"`), []byte(`"9.0.0"`), 1)
	forEdition := func(ed, arch, version string, size int) []byte {
		p, _ := testImage(t, size)
		id := identity(version)
		id.Edition, id.Arch = ed, arch
		var buf bytes.Buffer
		if _, err := Write(&buf, p, id, testKey(1)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	badMagic := gp
	badMagic.magic = []byte("genai-bundle 2\n")
	for _, tc := range []struct {
		name   string
		bundle []byte
		policy func(*Policy)
		want   error
	}{
		{"unknown key", other, nil, ErrUnknownKey},
		{"altered manifest", altered.join(t), nil, ErrSignature},
		{"signature of another manifest", parts{gp.magic, gp.manifest, resign(t, altered.manifest, testKey(2)), gp.image}.join(t), func(p *Policy) { p.Keys = keyring(testKey(1), testKey(2)) }, ErrSignature},
		{"other edition", forEdition("server", "amd64", "2.0.0", 10), nil, ErrCompatible},
		{"other arch", forEdition("embedded", "arm64", "2.0.0", 10), nil, ErrCompatible},
		{"downgrade", forEdition("embedded", "amd64", "0.9.0", 10), nil, ErrDowngrade},
		{"same version", forEdition("embedded", "amd64", "1.0.0", 10), nil, ErrDowngrade},
		{"too large", forEdition("embedded", "amd64", "2.0.0", slotSize+1), nil, ErrTooLarge},
		{"not a bundle", []byte("hello"), nil, ErrFormat},
		{"wrong magic", badMagic.join(t), nil, ErrFormat},
		{"cut in the manifest", good[:1024+100], nil, ErrFormat},
		{"no trusted key", good, func(p *Policy) { p.Keys = Keyring{} }, ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			tg := target(t, slotSize)
			r, err := Open(bytes.NewReader(tc.bundle), p)
			if err == nil {
				err = r.Install(tg, nil)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !bytes.Equal(contents(t, tg), bytes.Repeat([]byte{0xAA}, slotSize)) {
				t.Error("the slot was written")
			}
			t.Log(err)
		})
	}
}

func TestAllowDowngrade(t *testing.T) {
	for _, v := range []string{"0.9.0", "1.0.0"} {
		b, img := makeBundle(t, 10, v, testKey(1))
		p := policy()
		p.AllowDowngrade = true
		r, err := Open(bytes.NewReader(b), p)
		if err != nil {
			t.Fatal(err)
		}
		tg := target(t, slotSize)
		if err := r.Install(tg, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(contents(t, tg)[:10], img) {
			t.Error("not installed")
		}
	}
}

// TestTamperedChunk: a chunk that differs from the manifest is refused with its index, and the
// slot holds the chunks before it and nothing from it on.
func TestTamperedChunk(t *testing.T) {
	const size = 4*ChunkSize + 777
	good, img := makeBundle(t, size, "2.0.0", testKey(1))
	for _, n := range []int{0, 2, 4} {
		pt := split(t, good)
		pt.image = bytes.Clone(pt.image)
		pt.image[n*ChunkSize+ChunkSize/3%min(ChunkSize, size-n*ChunkSize)] ^= 1
		tg := target(t, slotSize)
		r, err := Open(bytes.NewReader(pt.join(t)), policy())
		if err != nil {
			t.Fatal(err)
		}
		err = r.Install(tg, nil)
		var ce *ChunkError
		if !errors.As(err, &ce) || !errors.Is(err, ErrChunk) || ce.Index != n {
			t.Fatalf("chunk %d tampered: %v", n, err)
		}
		got := contents(t, tg)
		if !bytes.Equal(got[:n*ChunkSize], img[:n*ChunkSize]) {
			t.Errorf("chunk %d tampered: the chunks before it were not written", n)
		}
		if !bytes.Equal(got[n*ChunkSize:], bytes.Repeat([]byte{0xAA}, slotSize-n*ChunkSize)) {
			t.Errorf("chunk %d tampered: something from chunk %d on was written", n, n)
		}
	}
}

// TestTruncated: a stream that ends in the image (a dropped download) stops there.
func TestTruncated(t *testing.T) {
	good, img := makeBundle(t, 3*ChunkSize, "2.0.0", testKey(1))
	cut := bytes.Index(good, img[:64]) + ChunkSize + 1000 // in chunk 1
	tg := target(t, slotSize)
	r, err := Open(bytes.NewReader(good[:cut]), policy())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Install(tg, nil); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "chunk 1") {
		t.Fatalf("got %v", err)
	}
	got := contents(t, tg)
	if !bytes.Equal(got[:ChunkSize], img[:ChunkSize]) || !bytes.Equal(got[ChunkSize:], bytes.Repeat([]byte{0xAA}, slotSize-ChunkSize)) {
		t.Error("the slot holds more or less than chunk 0")
	}
}

// lossy drops every write past its limit: storage that does not keep what it is given.
type lossy struct {
	*os.File
	limit int64
}

func (l lossy) WriteAt(b []byte, off int64) (int, error) {
	if off >= l.limit {
		return len(b), nil
	}
	return l.File.WriteAt(b, off)
}

func TestReadBack(t *testing.T) {
	b, _ := makeBundle(t, 2*ChunkSize, "2.0.0", testKey(1))
	r, err := Open(bytes.NewReader(b), policy())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Install(lossy{target(t, slotSize), ChunkSize}, nil); !errors.Is(err, ErrReadBack) {
		t.Fatalf("got %v", err)
	}
}

func TestParseManifest(t *testing.T) {
	b, _ := makeBundle(t, 10, "2.0.0", testKey(1))
	good := split(t, b).manifest
	for _, tc := range []struct {
		name, from, to string
	}{
		{"format", `"format": 1`, `"format": 2`},
		{"compatible", `"genai-os/embedded/amd64"`, `"genai-os/server/amd64"`},
		{"version", `"2.0.0"`, `"two"`},
		{"chunk size", `"chunk_size": 1048576`, `"chunk_size": 1024`},
		{"size", `"size": 10`, `"size": 2000000`},
		{"unknown field", `"format": 1`, `"format": 1, "extra": true`},
		{"upper-case digest", `"chunks": [` + "\n" + `      "`, `"chunks": [` + "\n" + `      "A`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tc.from, tc.to, 1)
			if bad == string(good) {
				t.Fatalf("%q not in the manifest", tc.from)
			}
			if _, err := ParseManifest([]byte(bad)); !errors.Is(err, ErrFormat) {
				t.Errorf("got %v", err)
			}
		})
	}
	if _, err := ParseManifest(good); err != nil {
		t.Error(err)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"1.0.0", "0.9.9", 1}, {"0.1.0", "0.1.0", 0}, {"0.2.0", "0.10.0", -1}, {"1.0.0-rc1", "1.0.0", -1}, {"v1.2.3", "1.2.3", 0}} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	pub, err := GenerateKey(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, PrivateKeyFile): 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, mode)
		}
	}
	if _, err := GenerateKey(dir, false); !errors.Is(err, ErrKeyExists) {
		t.Errorf("second init: %v", err)
	}
	priv, err := LoadPrivateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) || len(KeyID(pub)) != 16 {
		t.Error("the loaded key is not the one made")
	}
	// The device's folder holds the public key as written by the build.
	dev := t.TempDir()
	pb, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	os.WriteFile(filepath.Join(dev, filepath.Base(TrustedKeyPath(pub))), pb, 0o644)
	k, err := LoadKeyring(dev)
	if err != nil || k[KeyID(pub)] == nil {
		t.Errorf("keyring %v, %v", k, err)
	}
	if _, err := LoadKeyring(t.TempDir()); err == nil {
		t.Error("an empty folder gave a keyring")
	}
	os.Chmod(filepath.Join(dir, PrivateKeyFile), 0o644)
	if _, err := LoadPrivateKey(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable key: %v", err)
	}
	os.Chmod(filepath.Join(dir, PrivateKeyFile), 0o600)
	second, err := GenerateKey(dir, true)
	if err != nil || second.Equal(pub) {
		t.Errorf("--force: %v", err)
	}
	if _, err := LoadPrivateKey(t.TempDir()); err == nil || !strings.Contains(err.Error(), "update-key init") {
		t.Errorf("no key: %v", err)
	}
}

// TestSeveralSignatures: a signature by an unknown key beside a trusted one's is no obstacle.
func TestSeveralSignatures(t *testing.T) {
	b, _ := makeBundle(t, 10, "2.0.0", testKey(1))
	pt := split(t, b)
	var a, c []Signature
	json.Unmarshal(resign(t, pt.manifest, testKey(3)), &a)
	json.Unmarshal(pt.sig, &c)
	pt.sig, _ = json.Marshal(append(a, c...))
	r, err := Open(bytes.NewReader(pt.join(t)), policy())
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyID != c[0].KeyID {
		t.Errorf("verified by %s", r.KeyID)
	}
}
