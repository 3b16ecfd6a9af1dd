package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/ab/abtest"

	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/bundle"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/iso"
)

const slotSize = 6 << 20

var when = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// slotISO writes a slot's file system as the disk writer does (internal/iso, no boot entries):
// genai/build.json and a root layer of random bytes, so that the image spans several chunks.
func slotISO(t *testing.T, version string) string {
	t.Helper()
	tree := fstree.New()
	layer := make([]byte, 2<<20+12345)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range layer {
		layer[i] = byte(r.Uint32())
	}
	for p, data := range map[string][]byte{
		"genai/build.json":     fmt.Appendf(nil, `{"edition":"embedded","version":%q,"build_id":"id-%s"}`, version, version),
		"live/system.squashfs": layer,
	} {
		if err := tree.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o444, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "slot-"+version+".iso")
	if err := iso.Write(context.Background(), p, iso.Spec{VolumeID: "GENAI_SLOT", SourceDate: when, Files: tree}); err != nil {
		t.Fatal(err)
	}
	return p
}

// bundleOf writes the bundle of a slot image, signed with k, for edition.
func bundleOf(t *testing.T, img, edition, version string, k ed25519.PrivateKey) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := bundle.Write(&b, img, bundle.Manifest{Edition: edition, Arch: arch(), Version: version, BuildID: "id-" + version, Created: when}, k); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// device is an A/B disk as the running system sees it: sysfs, the partitions' device nodes (files
// here), the running root and the data partition's mount.
type device struct {
	sys    System
	dev    string // the devices' folder
	slotA  []byte // slot A's image
	booted ab.Slot
}

func newDevice(t *testing.T, booted ab.Slot, env ab.Env) *device {
	t.Helper()
	root := t.TempDir()
	d := &device{dev: filepath.Join(root, "dev"), booted: booted}
	class := filepath.Join(root, "sys", "class", "block")
	for _, dir := range []string{d.dev, class, filepath.Join(root, "root/etc/genai/update-keys"), filepath.Join(root, "data")} {
		os.MkdirAll(dir, 0o755)
	}
	partitions(t, root, "vda")
	espFile(t, filepath.Join(d.dev, "vda1"), env)
	a, err := os.ReadFile(slotISO(t, "0.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	d.slotA = a
	os.WriteFile(filepath.Join(d.dev, "vda2"), append(a, make([]byte, slotSize-len(a))...), 0o644)
	os.WriteFile(filepath.Join(d.dev, "vda3"), make([]byte, slotSize), 0o644)
	os.WriteFile(filepath.Join(d.dev, "vda4"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "root/etc/os-release"), []byte("NAME=\"GenAI OS\"\nVERSION_ID=0.1.0\nVARIANT_ID=embedded\n"), 0o644)
	pub := key(1).Public().(ed25519.PublicKey)
	pem, _ := bundle.MarshalPublicKey(pub)
	os.WriteFile(filepath.Join(root, "root", bundle.TrustedKeyPath(pub)), pem, 0o644)
	os.WriteFile(filepath.Join(root, "cmdline"), []byte("console=ttyS0 genai.slot="+string(booted)+" panic=10\n"), 0o644)
	d.sys = System{Root: filepath.Join(root, "root"), Cmdline: filepath.Join(root, "cmdline"), Mounts: filepath.Join(root, "mounts"), SysBlock: class, DevDir: d.dev,
		DataDir: filepath.Join(root, "data"), Now: func() time.Time { return when }, Client: http.DefaultClient,
		Reboot: func(context.Context) error { return fmt.Errorf("no reboot in this test") }}
	return d
}

// partitions adds an A/B disk's four partitions, disk1 to disk4, to sysfs under root as the
// kernel lays it out (/sys/class/block/<part> links into the disk's device folder).
func partitions(t *testing.T, root, disk string) {
	t.Helper()
	for i, pn := range []string{ab.ESPName, "genai-a", "genai-b", ab.DataName} {
		name := fmt.Sprintf("%s%d", disk, i+1)
		sysDev := filepath.Join(root, "sys", "devices", disk, name)
		os.MkdirAll(sysDev, 0o755)
		os.WriteFile(filepath.Join(sysDev, "partition"), []byte("1\n"), 0o644)
		os.WriteFile(filepath.Join(sysDev, "uevent"), []byte("DEVTYPE=partition\nPARTNAME="+pn+"\n"), 0o644)
		if err := os.Symlink(sysDev, filepath.Join(root, "sys", "class", "block", name)); err != nil {
			t.Fatal(err)
		}
	}
}

// espFile writes a FAT16 ESP with both copies of the boot state, as the disk writer does.
func espFile(t *testing.T, p string, env ab.Env) {
	t.Helper()
	img := abtest.ESP(t, 8<<20, map[string][]byte{ab.EnvPath: env.Format(), ab.EnvPath2: env.Format()})
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (d *device) env(t *testing.T) ab.Env {
	t.Helper()
	s, err := ab.OpenStore(filepath.Join(d.dev, "vda1"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, _, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (d *device) slot(t *testing.T, s ab.Slot) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dev, map[ab.Slot]string{ab.A: "vda2", ab.B: "vda3"}[s]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (d *device) run(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), d.sys, args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "update.bundle")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInstall: a bundle from a file, standard input or HTTP lands in slot B, verified; the boot
// state puts B on trial with 3 tries and the record says installed; status shows it.
func TestInstall(t *testing.T) {
	img := slotISO(t, "0.2.0")
	want, _ := os.ReadFile(img)
	b := bundleOf(t, img, "embedded", "0.2.0", key(1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(b) }))
	defer srv.Close()
	for _, src := range []string{writeTemp(t, b), "-", srv.URL + "/embedded.bundle"} {
		d := newDevice(t, ab.A, ab.Factory)
		code, out, errs := d.run(t, b, "install", src)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", src, code, errs)
		}
		var lines []string
		for i := 10; i <= 100; i += 10 {
			lines = append(lines, fmt.Sprintf("genai-update: progress=%d%%", i))
		}
		lines = append(lines, "genai-update: installed slot=B version=0.2.0: reboot to try it", "")
		if out != strings.Join(lines, "\n") {
			t.Errorf("%s: stdout:\n%s", src, out)
		}
		slotB := d.slot(t, ab.B)
		if !bytes.Equal(slotB[:len(want)], want) || !bytes.Equal(slotB[len(want):], make([]byte, slotSize-len(want))) {
			t.Errorf("%s: slot B does not hold the image", src)
		}
		if !bytes.Equal(d.slot(t, ab.A)[:len(d.slotA)], d.slotA) {
			t.Errorf("%s: slot A changed", src)
		}
		if e := d.env(t); e != (ab.Env{Active: ab.A, Trial: ab.B, Left: 3, SpareOK: true}) {
			t.Errorf("%s: boot state %+v", src, e)
		}
		st, err := ab.LoadState(d.sys.DataDir)
		if err != nil || st.Pending == nil || *st.Pending != (ab.Attempt{Slot: ab.B, Version: "0.2.0", BuildID: "id-0.2.0", Installed: when}) ||
			st.Last == nil || st.Last.Outcome != ab.Installed || st.Last.Slot != ab.B {
			t.Errorf("%s: record %+v %+v, %v", src, st.Pending, st.Last, err)
		}
	}
}

func TestStatus(t *testing.T) {
	d := newDevice(t, ab.A, ab.Factory)
	code, out, errs := d.run(t, nil, "status")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"slot A", "version 0.1.0", "booted, committed", "slot B", "bad (spare_ok=0", "no system readable", "last update: none"} {
		if !strings.Contains(out, w) {
			t.Errorf("status lacks %q:\n%s", w, out)
		}
	}
	b := bundleOf(t, slotISO(t, "0.2.0"), "embedded", "0.2.0", key(1))
	if code, _, errs := d.run(t, nil, "install", writeTemp(t, b)); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs = d.run(t, nil, "status", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var st Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	a, bb := st.Slots[0], st.Slots[1]
	if st.Booted != ab.A || st.Active != ab.A || st.Trial != ab.B || st.Left != 3 || !st.SpareOK ||
		a.Version != "0.1.0" || !a.Booted || !a.Active || a.Bad || bb.Version != "0.2.0" || bb.BuildID != "id-0.2.0" || !bb.Trial || bb.Bad ||
		st.Pending == nil || st.Last == nil || st.Last.Outcome != "installed" {
		t.Errorf("status:\n%s", out)
	}
	_, out, _ = d.run(t, nil, "status")
	for _, w := range []string{"on trial (3 tries left)", "pending: slot B version 0.2.0", "last update: installed slot=B version=0.2.0"} {
		if !strings.Contains(out, w) {
			t.Errorf("status lacks %q:\n%s", w, out)
		}
	}
}

// TestRefused: each refusal leaves slot B, the boot state and the record as they were.
func TestRefused(t *testing.T) {
	img := slotISO(t, "0.2.0")
	good := bundleOf(t, img, "embedded", "0.2.0", key(1))
	spare := ab.Env{Active: ab.A, SpareOK: true}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		booted ab.Slot
		env    ab.Env
		bundle []byte
		src    string
		want   string
	}{
		{"trial pending", ab.A, ab.Env{Active: ab.A, Trial: ab.B, Left: 2, SpareOK: true}, good, "", "a trial boot of slot B is pending"},
		{"booted the fallback", ab.B, ab.Env{Active: ab.A, SpareOK: true}, good, "", "the booted slot B is not the committed slot A"},
		{"another key", ab.A, spare, bundleOf(t, img, "embedded", "0.2.0", key(2)), "", "signed by a key this system does not trust"},
		{"another edition", ab.A, spare, bundleOf(t, img, "server", "0.2.0", key(1)), "", "genai-os/server/"},
		{"downgrade", ab.A, spare, bundleOf(t, img, "embedded", "0.0.9", key(1)), "", "pass --allow-downgrade"},
		{"same version", ab.A, spare, bundleOf(t, img, "embedded", "0.1.0", key(1)), "", "is the running version"},
		{"not found", ab.A, spare, nil, srv.URL + "/x.bundle", "404 Not Found"},
		{"not a bundle", ab.A, spare, []byte("<html>"), "", "not a valid genai-bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t, tc.booted, tc.env)
			before := d.slot(t, ab.B)
			src := tc.src
			if src == "" {
				src = writeTemp(t, tc.bundle)
			}
			code, out, errs := d.run(t, nil, "install", src)
			if code != 1 || !strings.HasPrefix(errs, "genai-update: refused: ") || !strings.Contains(errs, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want refused: ...%s", code, out, errs, tc.want)
			}
			if !bytes.Equal(d.slot(t, ab.B), before) {
				t.Error("slot B was written")
			}
			if e := d.env(t); e != tc.env {
				t.Errorf("boot state %+v, want %+v", e, tc.env)
			}
			if st, _ := ab.LoadState(d.sys.DataDir); st.Pending != nil || st.Last != nil {
				t.Errorf("record %+v", st)
			}
		})
	}
}

// TestAllowDowngrade installs an older version on purpose.
func TestAllowDowngrade(t *testing.T) {
	d := newDevice(t, ab.A, ab.Factory)
	b := bundleOf(t, slotISO(t, "0.0.9"), "embedded", "0.0.9", key(1))
	if code, out, errs := d.run(t, nil, "install", "--allow-downgrade", writeTemp(t, b)); code != 0 || !strings.Contains(out, "installed slot=B version=0.0.9") {
		t.Errorf("exit %d: %s%s", code, out, errs)
	}
}

// TestTampered: a chunk altered in transit stops the install at that chunk; slot B is marked
// bad (spare_ok=0), no trial is set, and the record says failed with the chunk.
func TestTampered(t *testing.T) {
	d := newDevice(t, ab.A, ab.Env{Active: ab.A, SpareOK: true})
	img := slotISO(t, "0.2.0")
	b := bundleOf(t, img, "embedded", "0.2.0", key(1))
	image, _ := os.ReadFile(img)
	at := bytes.Index(b, []byte(bundle.NameImage+"\x00")) + 512 + bundle.ChunkSize + 100 // the tar header (512 bytes, POSIX ustar) then chunk 1
	b[at] ^= 0xff
	code, out, errs := d.run(t, nil, "install", writeTemp(t, b))
	if code != 1 || !strings.Contains(errs, "genai-update: refused: slot B: chunk 1 ") {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	done := bundle.ChunkSize * 100 / len(image) / 10 * 10 // the percentage chunk 0 reached
	if strings.Contains(out, fmt.Sprintf("progress=%d%%", done+10)) || !strings.Contains(out, fmt.Sprintf("progress=%d%%", done)) {
		t.Errorf("progress past the tampered chunk (chunk 0 is %d %%):\n%s", done, out)
	}
	slotB := d.slot(t, ab.B)
	if !bytes.Equal(slotB[:bundle.ChunkSize], image[:bundle.ChunkSize]) || !bytes.Equal(slotB[bundle.ChunkSize:], make([]byte, slotSize-bundle.ChunkSize)) {
		t.Error("slot B holds more or less than chunk 0")
	}
	if e := d.env(t); e != (ab.Env{Active: ab.A}) {
		t.Errorf("boot state %+v, want slot B marked bad", e)
	}
	st, _ := ab.LoadState(d.sys.DataDir)
	if st.Pending != nil || st.Last == nil || st.Last.Outcome != ab.Failed || !strings.Contains(st.Last.Reason, "chunk 1") {
		t.Errorf("record %+v %+v", st.Pending, st.Last)
	}
	// The same bundle, intact, installs afterwards.
	b[at] ^= 0xff
	if code, _, errs := d.run(t, nil, "install", writeTemp(t, b)); code != 0 {
		t.Errorf("retry: %s", errs)
	}
}

func TestReboot(t *testing.T) {
	d := newDevice(t, ab.A, ab.Factory)
	asked := false
	d.sys.Reboot = func(context.Context) error { asked = true; return nil }
	b := bundleOf(t, slotISO(t, "0.2.0"), "embedded", "0.2.0", key(1))
	if code, _, errs := d.run(t, nil, "install", writeTemp(t, b), "--reboot"); code != 0 || !asked {
		t.Errorf("exit %d, reboot asked %v: %s", code, asked, errs)
	}
	asked = false
	if code, _, _ := d.run(t, nil, "install", writeTemp(t, b)); code != 1 || asked {
		t.Errorf("a refused install (trial pending) rebooted: exit %d", code)
	}
}

func TestUsage(t *testing.T) {
	d := newDevice(t, ab.A, ab.Factory)
	for _, args := range [][]string{nil, {"install"}, {"install", "a", "b"}, {"status", "x"}, {"frob"}, {"install", "--nosuch", "x"}} {
		if code, _, errs := d.run(t, nil, args...); code != 2 || !strings.Contains(errs, "usage:") {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
	}
}

// TestTwoDisks: with a second A/B disk attached (a stick being flashed), the disk is the one the
// booted slot's medium is mounted from; without that mount the choice is refused.
func TestTwoDisks(t *testing.T) {
	d := newDevice(t, ab.A, ab.Factory)
	root := filepath.Dir(d.sys.Root)
	partitions(t, root, "sda")
	for i := 1; i <= 4; i++ {
		os.WriteFile(filepath.Join(d.dev, fmt.Sprintf("sda%d", i)), make([]byte, 1<<20), 0o644)
	}
	b := bundleOf(t, slotISO(t, "0.2.0"), "embedded", "0.2.0", key(1))
	if code, _, errs := d.run(t, nil, "install", writeTemp(t, b)); code != 1 || !strings.Contains(errs, "several disks") {
		t.Errorf("no mount: exit %d: %s", code, errs)
	}
	os.WriteFile(d.sys.Mounts, []byte("proc /proc proc rw 0 0\n/dev/vda2 /run/live/medium iso9660 ro 0 0\n"), 0o644)
	if code, _, errs := d.run(t, nil, "install", writeTemp(t, b)); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if e := d.env(t); e.Trial != ab.B {
		t.Errorf("boot state %+v", e)
	}
	if sdb, _ := os.ReadFile(filepath.Join(d.dev, "sda3")); !bytes.Equal(sdb, make([]byte, 1<<20)) {
		t.Error("the other disk's slot B was written")
	}
}

// TestBusy: a slot another process holds (another genai-update) is refused.
func TestBusy(t *testing.T) {
	d := newDevice(t, ab.A, ab.Factory)
	f, err := os.Open(filepath.Join(d.dev, "vda3"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	b := bundleOf(t, slotISO(t, "0.2.0"), "embedded", "0.2.0", key(1))
	if code, _, errs := d.run(t, nil, "install", writeTemp(t, b)); code != 1 || !strings.Contains(errs, "another genai-update is installing") {
		t.Errorf("exit %d: %s", code, errs)
	}
	if e := d.env(t); e != ab.Factory {
		t.Errorf("boot state %+v", e)
	}
}

// TestStalledDownload: a server that stops sending in chunk 1 ends the install after the stall
// limit; slot B holds chunk 0 and stays marked bad.
func TestStalledDownload(t *testing.T) {
	d := newDevice(t, ab.A, ab.Env{Active: ab.A, SpareOK: true})
	d.sys.Stall = 300 * time.Millisecond
	img := slotISO(t, "0.2.0")
	b := bundleOf(t, img, "embedded", "0.2.0", key(1))
	image, _ := os.ReadFile(img)
	cut := bytes.Index(b, []byte(bundle.NameImage+"\x00")) + 512 + bundle.ChunkSize + 100
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b[:cut])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	code, _, errs := d.run(t, nil, "install", srv.URL+"/b.bundle")
	if code != 1 || !strings.Contains(errs, "nothing received for 300ms") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	slotB := d.slot(t, ab.B)
	if !bytes.Equal(slotB[:bundle.ChunkSize], image[:bundle.ChunkSize]) || !bytes.Equal(slotB[bundle.ChunkSize:], make([]byte, slotSize-bundle.ChunkSize)) {
		t.Error("slot B holds more or less than chunk 0")
	}
	if e := d.env(t); e != (ab.Env{Active: ab.A}) {
		t.Errorf("boot state %+v, want slot B marked bad", e)
	}
}
