package release

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/sign"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const (
	sumA = "a215cf30622cf7ae847fa1ca256000b9879c06fe486fb3209ea9cc3f43086444"
	sumB = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func TestSums(t *testing.T) {
	text, err := FormatSums([]Sum{{sumA, "genai-os-server-0.1.0-amd64.iso"}, {sumB, "NOTES.md"}, {sumB, "b/c.deb"}})
	if err != nil {
		t.Fatal(err)
	}
	want := sumB + "  NOTES.md\n" + sumB + "  b/c.deb\n" + sumA + "  genai-os-server-0.1.0-amd64.iso\n"
	if string(text) != want {
		t.Fatalf("SHA256SUMS =\n%s\nwant (sorted by name, two spaces)\n%s", text, want)
	}
	back, err := ParseSums(bytes.NewReader(text))
	if err != nil || len(back) != 3 || back[2] != (Sum{sumA, "genai-os-server-0.1.0-amd64.iso"}) {
		t.Fatalf("parsed back %+v, %v", back, err)
	}
	// binary mode, as `sha256sum -b` writes it
	if s, err := ParseSums(strings.NewReader(strings.ToUpper(sumA) + " *x.iso\n")); err != nil || s[0] != (Sum{sumA, "x.iso"}) {
		t.Errorf("binary-mode line: %+v, %v", s, err)
	}
	if s, ok := Lookup(back, "c.deb"); !ok || s.Name != "b/c.deb" {
		t.Errorf("lookup by base name: %+v %v", s, ok)
	}
	if _, ok := Lookup(back, "nope.iso"); ok {
		t.Error("an unlisted name was found")
	}
	for _, bad := range []string{"xyz  a.iso\n", sumA + "a.iso\n", sumA + " a.iso\n", sumA[:60] + "  a.iso\n"} {
		if _, err := ParseSums(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v, want an error naming line 1", bad, err)
		}
	}
	for _, bad := range [][]Sum{{{"abc", "x"}}, {{sumA, "a\nb"}}, {{sumA, "x"}, {sumB, "x"}}} {
		if _, err := FormatSums(bad); err == nil {
			t.Errorf("%+v formatted", bad)
		}
	}
}

// TestSumsWithCoreutils checks SumDir and FormatSums against sha256sum itself.
func TestSumsWithCoreutils(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "repo", "dists"), 0o755)
	for n, data := range map[string]string{"a.iso": "image", "NOTES.md": "# notes\n", "repo/dists/InRelease": "x", SumsFile: "old", SignatureFile: "old"} {
		os.WriteFile(filepath.Join(dir, n), []byte(data), 0o644)
	}
	sums, err := SumDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 3 {
		t.Fatalf("SumDir = %+v, want the three files but SHA256SUMS and its signature", sums)
	}
	text, _ := FormatSums(sums)
	os.WriteFile(filepath.Join(dir, SumsFile), text, 0o644)
	cmd := exec.Command("sha256sum", "--strict", "-c", SumsFile)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
}

func TestDiff(t *testing.T) {
	for _, tt := range []struct {
		name     string
		old, new map[string]string
		want     string
	}{
		{"same", map[string]string{"a": "1"}, map[string]string{"a": "1"}, ""},
		{"added", map[string]string{}, map[string]string{"a": "1"}, "added a  -> 1"},
		{"removed", map[string]string{"a": "1"}, nil, "removed a 1 -> "},
		{"version", map[string]string{"a": "1:1.0-1"}, map[string]string{"a": "1:1.0-1+deb13u1"}, "changed a 1:1.0-1 -> 1:1.0-1+deb13u1"},
		{"sorted, all kinds", map[string]string{"z": "1", "m": "1", "b": "2"}, map[string]string{"a": "1", "m": "2", "b": "2"},
			"added a  -> 1; changed m 1 -> 2; removed z 1 -> "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range Diff(tt.old, tt.new) {
				got = append(got, c.Kind()+" "+c.Name+" "+c.Old+" -> "+c.New)
			}
			if s := strings.Join(got, "; "); s != tt.want {
				t.Errorf("Diff = %q, want %q", s, tt.want)
			}
		})
	}
}

func readFixture(t *testing.T, name string) *build.Manifest {
	t.Helper()
	m, err := ReadManifest(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNotes compares NOTES.md for a release of two editions, one of them new, against a previous
// release of one, with the golden file.
func TestNotes(t *testing.T) {
	server, developer := readFixture(t, "server-0.2.0.manifest.json"), readFixture(t, "developer-0.2.0.manifest.json")
	in := NotesInput{Version: "0.2.0", SourceDate: time.Unix(1764000000, 0), Fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567",
		UserID: "GenAI OS release key <release@example.org>",
		Editions: []EditionNotes{
			{Manifest: server, Boot: BootCheck{Method: Tested, Source: "/tmp/boot.json", Modes: []string{"server-iso-bios-cd", "server-iso-uefi-usb"}}},
			{Manifest: developer, Boot: BootCheck{Method: NotBooted}},
		},
		Previous: &Previous{Version: "0.1.0", Manifests: map[string]*build.Manifest{"server": readFixture(t, "server-0.1.0.manifest.json")}},
	}
	got := Notes(in)
	golden := filepath.Join("testdata", "NOTES.md.golden")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("NOTES.md differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	for _, s := range []string{"- openssh-server 1:10.0p1-7 -> 1:10.0p1-7+deb13u4", "- added libzstd1", "- removed libwrap0", "New in this release", "not boot-tested"} {
		if !strings.Contains(string(got), s) {
			t.Errorf("notes lack %q", s)
		}
	}
	in.Previous = nil
	if first := string(Notes(in)); !strings.Contains(first, "first release") {
		t.Errorf("notes without a previous release do not say it is the first:\n%s", first)
	}
}

func TestReadPrevious(t *testing.T) {
	dir := t.TempDir()
	rel := filepath.Join(dir, "0.1.0")
	os.Mkdir(rel, 0o755)
	data, _ := os.ReadFile(filepath.Join("testdata", "server-0.1.0.manifest.json"))
	os.WriteFile(filepath.Join(rel, "genai-os-server-0.1.0-amd64.iso.manifest.json"), data, 0o644)
	p, err := ReadPrevious(rel + "/")
	if err != nil || p.Version != "0.1.0" || p.Manifests["server"] == nil {
		t.Fatalf("%+v, %v", p, err)
	}
	if _, err := ReadPrevious(dir); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("a folder without manifests: %v", err)
	}
}

func TestBootRowsAndTested(t *testing.T) {
	rows, err := BootRows("server", []string{"iso"})
	if err != nil || len(rows) != 6 || rows[0].TestName() != "TestBootMatrix/server-iso-bios-cd" || rows[5].Name() != "server-iso-secureboot-usb" {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	if r, _ := BootRows("server", []string{"kernel-initrd"}); len(r) != 1 || r[0].Name() != "server-kernel-initrd-direct" {
		t.Errorf("kernel-initrd rows %+v", r)
	}
	disk, err := BootRows("embedded", []string{"disk-image"})
	if err != nil || len(disk) != 4 || disk[0].TestName() != "TestEmbeddedBoot/embedded-disk-image-secureboot-virtio" || disk[3].Name() != "embedded-disk-image-uefi-usb" {
		t.Errorf("BootRows(embedded, disk-image) = %v, %v", disk, err)
	}
	if _, err := BootRows("server", []string{"qcow2"}); err == nil {
		t.Error("an output without boots was accepted")
	}
	f, err := os.Open(filepath.Join("testdata", "boot-passed.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ParseTestJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	// pass: every server row passed
	if passed, err := res.CheckTested(rows); err != nil || len(passed) != 6 {
		t.Errorf("server: %v, %v", passed, err)
	}
	// fail, skip and missing: the developer's rows
	dev, _ := BootRows("developer", []string{"iso"})
	_, err = res.CheckTested(dev)
	for _, want := range []string{"TestBootMatrix/developer-iso-bios-cd failed", "TestBootMatrix/developer-iso-uefi-cd was skipped", "TestBootMatrix/developer-iso-secureboot-usb did not run"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("developer: %v, want %q", err, want)
		}
	}
	// one failed row among passes is enough to refuse
	// the images: the fixture's rows booted a215..., but secureboot-usb another image, and
	// uefi-cd did not log one
	iso := &build.Result{Images: []build.ImageFile{{Output: "iso", Format: "iso", Path: "/x/s.iso", SHA256: sumA}}}
	err = res.CheckImages(rows, iso)
	for _, want := range []string{"secureboot-usb booted image sha256=bbbb", "the release's is " + sumA, "uefi-cd does not say which image"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("images: %v, want %q", err, want)
		}
	}
	if err := res.CheckImages(rows[:2], iso); err != nil {
		t.Errorf("rows that booted the released image: %v", err)
	}
	res["TestBootMatrix/server-iso-uefi-usb"] = TestResult{Action: "fail", Image: sumA}
	if _, err := res.CheckTested(rows); err == nil {
		t.Error("a failed row was accepted")
	}
	if _, err := ParseTestJSON(strings.NewReader("ok  \tgithub.com/x\t1.2s\n")); err == nil {
		t.Error("plain go test output was accepted as -json")
	}
}

// TestSignatureTime: a release dated before its key was made is signed at the key's creation.
func TestSignatureTime(t *testing.T) {
	made := time.Unix(1764000000, 0).UTC()
	k, err := sign.Generate("GenAI OS test", "release@example.org", made)
	if err != nil {
		t.Fatal(err)
	}
	if at, err := SignatureTime(k, made.Add(-time.Hour)); err != nil || !at.Equal(made) {
		t.Errorf("an older release: signed at %v, %v; want the key's creation %v", at, err, made)
	}
	later := made.Add(time.Hour)
	if at, _ := SignatureTime(k, later); !at.Equal(later) {
		t.Errorf("a newer release: signed at %v, want its date %v", at, later)
	}
	// internal/sign clamps the time itself (go-crypto refuses to sign before the key existed).
	if _, err := k.DetachSign(strings.NewReader("x"), made.Add(-time.Hour)); err != nil {
		t.Errorf("a release dated before its key: %v", err)
	}
}

// TestWriteAndVerify writes a release from a fake build's files, checks it with gpgv and
// sha256sum, and Verify's four refusals.
func TestWriteAndVerify(t *testing.T) {
	key, err := sign.Generate("GenAI OS test", "release@example.org", time.Unix(1764000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	builds := t.TempDir()
	img := filepath.Join(builds, "genai-os-server-0.2.0-amd64.iso")
	os.WriteFile(img, []byte("an image"), 0o644)
	os.WriteFile(img+".manifest.json", []byte("{}"), 0o644)
	os.WriteFile(img+".spdx.json", []byte("{}"), 0o644)
	h, _ := FileSHA256(img)
	m := readFixture(t, "server-0.2.0.manifest.json")
	res := &build.Result{Images: []build.ImageFile{{Output: "iso", Format: "iso", Path: img, SHA256: h}}, Manifest: img + ".manifest.json", SBOM: img + ".spdx.json", ManifestData: m}
	out := filepath.Join(t.TempDir(), "release")
	opts := Options{Out: out, Version: "0.2.0", Key: key, SourceDate: time.Unix(1764000000, 0), Editions: []Edition{{Result: res, Boot: BootCheck{Method: NotBooted}}}}
	dir, err := Write(opts)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 { // 0.2.0 and the lock file
		t.Errorf("release/ holds %d entries, want the release and its lock: %v", len(entries), entries)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, SumsFile))
	for _, n := range []string{"NOTES.md", PublicKeyFile, "genai-os-server-0.2.0-amd64.iso", ".manifest.json", ".spdx.json"} {
		if !strings.Contains(string(sums), n) {
			t.Errorf("SHA256SUMS lacks %s:\n%s", n, sums)
		}
	}
	cmd := exec.Command("sha256sum", "--strict", "-c", SumsFile)
	cmd.Dir = dir
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, o)
	}
	if _, err := Write(opts); !errors.Is(err, ErrExists) {
		t.Errorf("a second release of 0.2.0: %v, want ErrExists", err)
	}
	os.WriteFile(img, []byte("another image"), 0o644) // a new build renames a new file over the old
	h2, _ := FileSHA256(img)
	res.Images[0].SHA256 = h2
	opts.Force = true
	if dir, err = Write(opts); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if got, _ := FileSHA256(filepath.Join(dir, filepath.Base(img))); got != h2 {
		t.Error("--force did not replace the release")
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".0.2.0.partial-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	pub := filepath.Join(dir, PublicKeyFile)
	rel := filepath.Join(dir, filepath.Base(img))
	sumsPath, sig := filepath.Join(dir, SumsFile), filepath.Join(dir, SignatureFile)
	if v, err := Verify(rel, sumsPath, sig, pub); err != nil || v.Fingerprint != key.Fingerprint() {
		t.Fatalf("verify: %+v, %v", v, err)
	}

	// a flipped byte in a copy of the image
	bad := filepath.Join(t.TempDir(), filepath.Base(img))
	data, _ := os.ReadFile(rel)
	data[0] ^= 1
	os.WriteFile(bad, data, 0o644)
	if _, err := Verify(bad, sumsPath, sig, pub); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("flipped byte: %v", err)
	}
	// a file the release does not list
	other := filepath.Join(t.TempDir(), "genai-os-desktop-0.2.0-amd64.iso")
	os.WriteFile(other, data, 0o644)
	if _, err := Verify(other, sumsPath, sig, pub); !errors.Is(err, ErrNotListed) {
		t.Errorf("unlisted image: %v", err)
	}
	// SHA256SUMS changed after signing
	forged := filepath.Join(t.TempDir(), SumsFile)
	os.WriteFile(forged, bytes.Replace(sums, []byte(sums[:1]), []byte("0"), 1), 0o644)
	if _, err := Verify(rel, forged, sig, pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed SHA256SUMS: %v", err)
	}
	// signed by another key
	thief, _ := sign.Generate("someone else", "x@example.org", time.Unix(1764000000, 0))
	sums2, _ := os.ReadFile(sumsPath)
	sig2, _ := thief.DetachSign(bytes.NewReader(sums2), time.Unix(1764000000, 0))
	otherSig := filepath.Join(t.TempDir(), SignatureFile)
	os.WriteFile(otherSig, sig2, 0o644)
	if _, err := Verify(rel, sumsPath, otherSig, pub); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), thief.Fingerprint()) {
		t.Errorf("another key's signature: %v", err)
	}
}
