package boot_test

import (
	"archive/tar"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/bundle"
	"github.com/genai-os/genai-build/internal/qemu"
)

// The update scenarios of the embedded edition (issue 11) run on one disk, in order, as a device
// lives: first boot on slot A; a good update to B that is committed; a v3 whose health check
// fails and a v4 whose kernel panics, both rolled back to B; refused bundles; a power cut while a
// bundle streams. Every version is the same edition, embedded-test (a device takes only its own
// edition's bundles), each from its own editions folder: the embedded edition with the init's root
// shell on the console (init.debug, and u-root for the shell), so the test can type commands, and
// what the version needs (a version number, a command line whose kernel panics).
const embTestEdition = "embedded-test"

// embVersions are the test edition's versions, by the name the test builds them under.
var embVersions = map[string]string{
	"v1": "",
	"v2": "version: 0.2.0\n",
	"v3": "version: 0.3.0\n",
	"v4": "version: 0.4.0\n# no init to run and no root to mount: the kernel panics\nboot:\n  cmdline: [init.debug, rdinit=/genai-missing]\n",
}

func embTestYAML(extra string) string {
	y := "# test/boot: the embedded edition with a root shell on the serial console.\nname: embedded-test\nextends: embedded\n" +
		"description: Embedded, with a root shell on the console for the update scenarios\nrecipes: [u-root-core]\n"
	if !strings.Contains(extra, "cmdline") {
		y += "boot:\n  cmdline: [init.debug]\n"
	}
	return y + extra
}

// embEditionsDir writes the editions folder of one version, once per version.
func embEditionsDir(t *testing.T, version string) string {
	t.Helper()
	embEditions.Lock()
	defer embEditions.Unlock()
	if d, ok := embEditions.dirs[version]; ok {
		return d
	}
	d, err := writeEditions(map[string]string{embTestEdition: embTestYAML(embVersions[version])})
	if err != nil {
		t.Fatal(err)
	}
	embEditions.dirs[version] = d
	return d
}

var embEditions = struct {
	sync.Mutex
	dirs map[string]string
}{dirs: map[string]string{}}

// serveDir serves dir over HTTP on the host's loopback, which QEMU's user network shows the guest
// as 10.0.2.2; it returns the URL prefix the guest uses. Under /stall/ a file is sent only to 60 %,
// and then nothing until the client goes: the power cut comes while the bundle streams.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	mux.HandleFunc("/stall/", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b[:len(b)*6/10])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return fmt.Sprintf("http://10.0.2.2:%d/", l.Addr().(*net.TCPAddr).Port)
}

// console is a running A/B device's serial console.
type console struct {
	t     *testing.T
	m     *qemu.Machine
	syncs int
}

// sync waits until the shell of this boot answers: an earlier boot's prompt, never waited for,
// is still ahead of Expect's cursor. The marker's answer (the quotes gone) is not what was typed.
func (c *console) sync() {
	c.t.Helper()
	c.syncs++
	if err := c.m.Send(fmt.Sprintf("echo SY''NC-%d\r", c.syncs)); err != nil {
		c.t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("SYNC-%d", c.syncs), "\n$ "} {
		if err := c.m.Expect(s, 2*time.Minute); err != nil {
			c.t.Fatalf("the shell does not answer: %v\n%s", err, tail(c.m.Console(), 4000))
		}
	}
}

// wait waits for a line matching re (from the last mark on) and returns its submatches.
func (c *console) wait(re string, d time.Duration) []string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	line, err := c.m.WaitWithin(rx, d)
	if err != nil {
		c.t.Fatalf("waiting for %q: %v\n%s", re, err, tail(c.m.Console(), 6000))
	}
	return rx.FindStringSubmatch(line)
}

// run types a command into the root shell and returns what it printed until the next prompt.
func (c *console) run(cmd string) string {
	c.t.Helper()
	return shellRunner(c.t, c.m)(cmd)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// bootLines are the lines of one boot of an A/B device, up to its root shell.
type bootLines struct {
	grubSlot, grubTrial, grubLeft string
	booted, active, trial         string
	version                       string
}

// waitBoot follows one boot to the shell's prompt: GRUB's choice, the init's slot line, ready.
func (c *console) waitBoot(limit time.Duration) bootLines {
	c.t.Helper()
	g := c.wait(`genai-grub: slot=(\w+) trial=(\w+) left=(\d)`, limit)
	s := c.wait(`genai-os: slot booted=(\w+) active=(\w+) trial=(\w+) left=\d version=(\S+)`, limit)
	c.wait(`genai-os: ready `, limit)
	c.wait(`console login user=root`, limit)
	c.sync()
	return bootLines{grubSlot: g[1], grubTrial: g[2], grubLeft: g[3], booted: s[1], active: s[2], trial: s[3], version: s[4]}
}

// embBuild builds one version of the test edition with the test's update key.
func embBuild(t *testing.T, version string, overlays ...string) *build.Result {
	t.Helper()
	return buildISO(t, embTestEdition+"-"+version, build.Options{Edition: embTestEdition, EditionsDir: embEditionsDir(t, version),
		UpdateKey: updateKeys(t), ExtraOverlays: overlays})
}

// imageFile is the path of the build's image file of format ("disk-image", "bundle").
func imageFile(t *testing.T, res *build.Result, format string) string {
	t.Helper()
	for _, im := range res.Images {
		if im.Format == format {
			return im.Path
		}
	}
	t.Fatalf("the build wrote no %s: %+v", format, res.Images)
	return ""
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// craftBundles writes the bundles a device must refuse, from v2's: one with a byte of its slot
// image changed (chunk 3), one signed by a key the device does not trust, and one signed by the
// right key for another edition.
func craftBundles(t *testing.T, v2, dir string) {
	t.Helper()
	f, err := os.Open(v2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m *bundle.Manifest
	slot := filepath.Join(t.TempDir(), "slot.img")
	tr := tar.NewReader(f)
	var slotOff int64
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("reading %s: %v", v2, err)
		}
		if h.Name == "manifest.json" {
			b, _ := io.ReadAll(tr)
			if m, err = bundle.ParseManifest(b); err != nil {
				t.Fatal(err)
			}
		}
		if h.Name == "slot.img" {
			pos, _ := f.Seek(0, io.SeekCurrent) // the tar reader reads no further than the header here
			slotOff = pos
			out, err := os.Create(slot)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
			break
		}
	}
	// tampered: one byte of chunk 3 of the genuine bundle
	b, err := os.ReadFile(v2)
	if err != nil {
		t.Fatal(err)
	}
	if off := slotOff + 3*bundle.ChunkSize + 12345; off < int64(len(b)) {
		b[off] ^= 0xff
	} else {
		t.Fatalf("v2's slot image is shorter than 4 chunks")
	}
	if err := os.WriteFile(filepath.Join(dir, "tampered.bundle"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := bundle.LoadPrivateKey(updateKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	if _, err := bundle.GenerateKey(otherDir, false); err != nil {
		t.Fatal(err)
	}
	otherKey, err := bundle.LoadPrivateKey(otherDir)
	if err != nil {
		t.Fatal(err)
	}
	other := *m
	other.Edition = "embedded-other"
	for name, c := range map[string]struct {
		id  bundle.Manifest
		key ed25519.PrivateKey
	}{"other-key": {*m, otherKey}, "other-edition": {other, key}} {
		out, err := os.Create(filepath.Join(dir, name+".bundle"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.Write(out, slot, c.id, c.key); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}

// TestEmbeddedUpdates is the seven scenarios on one device, in order.
func TestEmbeddedUpdates(t *testing.T) {
	needQEMU(t)
	v1 := embBuild(t, "v1")
	bundles := t.TempDir()
	for name, res := range map[string]*build.Result{
		"v1": v1,
		"v2": embBuild(t, "v2"),
		"v3": embBuild(t, "v3", "testdata/health-fail"),
		"v4": embBuild(t, "v4"),
	} {
		copyTo(t, imageFile(t, res, "bundle"), filepath.Join(bundles, name+".bundle"))
	}
	craftBundles(t, filepath.Join(bundles, "v2.bundle"), bundles)
	url := serveDir(t, bundles)

	// The device: the image as dd writes it onto a 1 GiB disk.
	dev := filepath.Join(t.TempDir(), "disk.img")
	copyTo(t, imageFile(t, v1, "disk-image"), dev)
	fi, err := os.Stat(dev)
	if err != nil {
		t.Fatal(err)
	}
	const disk = 1 << 30
	if err := os.Truncate(dev, disk); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	cfg := qemu.Config{QMP: filepath.Join(state, "qmp.sock"), Image: dev, Firmware: qemu.SecureBoot, Media: qemu.Virtio, Writable: true, Reboot: true,
		PanicOK: true, Net: true, StateDir: state, Extra: []string{"-device", "i6300esb", "-action", "watchdog=reset"}}
	m := startVM(t, cfg, 25*time.Minute)
	top := t
	c := &console{t: t, m: m}
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { c.t = t; f(t) }) {
			t.FailNow() // each scenario starts where the last one left the device
		}
	}
	install := func(name string) string {
		return c.run("genai-update install " + url + name + ".bundle; echo exit=$?")
	}
	// installReboot installs and reboots: no prompt comes back, the next boot's lines do.
	installReboot := func(name string) {
		if err := c.m.Send("genai-update install --reboot " + url + name + ".bundle\r"); err != nil {
			t.Fatal(err)
		}
	}

	step("1-first-boot", func(t *testing.T) {
		b := c.waitBoot(4 * time.Minute)
		if b.grubSlot != "A" || b.grubTrial != "none" || b.booted != "A" || b.active != "A" || b.version != "0.1.0" {
			t.Errorf("first boot: %+v, want slot A committed, version 0.1.0", b)
		}
		d := regexp.MustCompile(`genai-os: data dev=(\S+) size=(\d+) grown=(\w+) formatted=(\w+)`).FindStringSubmatch(c.m.Since(0))
		if d == nil {
			t.Fatal("no data line")
		}
		size, _ := strconv.ParseInt(d[2], 10, 64)
		if d[1] != "vda4" || d[3] != "yes" || d[4] != "yes" || size < disk-fi.Size() {
			t.Errorf("first boot's data line %q: want vda4 grown to the disk's end (≥ %d bytes) and formatted", d[0], disk-fi.Size())
		}
		if out := c.run("echo kept-across-updates > /data/keep.txt; cat /data/keep.txt; echo gone > /etc/not-kept"); !strings.Contains(out, "kept-across-updates") {
			t.Errorf("writing /data:\n%s", out)
		}
		if out := c.run("cat /proc/mounts"); !regexp.MustCompile(`/dev/vda4 /data ext4 rw`).MatchString(out) || !regexp.MustCompile(`/dev/vda2 \S+ iso9660 ro`).MatchString(out) {
			t.Errorf("mounts: want /data on vda4 read-write and slot A read-only:\n%s", out)
		}
	})

	step("6-refused-on-v1", func(t *testing.T) {
		for name, want := range map[string]string{
			"tampered":      `chunk 3`,
			"other-key":     `key`,
			"other-edition": `another system`,
		} {
			out := install(name)
			if !regexp.MustCompile(`genai-update: refused: .*(`+want+`)`).MatchString(out) || !strings.Contains(out, "exit=1") {
				t.Errorf("%s bundle: want refused (%s), exit 1:\n%s", name, want, out)
			}
		}
		out := c.run("genai-update status")
		if !strings.Contains(out, "slot A") || !regexp.MustCompile(`slot A .*booted`).MatchString(out) {
			t.Errorf("status after refusals:\n%s", out)
		}
	})

	step("2-good-update", func(t *testing.T) {
		start := time.Now()
		installReboot("v2")
		c.wait(`genai-update: progress=50%`, 3*time.Minute)
		c.wait(`genai-update: installed slot=B version=0.2.0`, 3*time.Minute)
		t.Logf("install of v2 over HTTP: %v wall", time.Since(start).Round(100*time.Millisecond))
		b := c.waitBoot(4 * time.Minute)
		if b.grubSlot != "B" || b.grubTrial != "B" || b.grubLeft != "2" || b.booted != "B" || b.active != "A" || b.trial != "B" {
			t.Errorf("trial boot of v2: %+v", b)
		}
		c.wait(`genai-os: update committed slot=B version=0.2.0`, 3*time.Minute)
		reboot(t, c.m)
		b = c.waitBoot(4 * time.Minute)
		if b.grubSlot != "B" || b.grubTrial != "none" || b.booted != "B" || b.active != "B" || b.version != "0.2.0" {
			t.Errorf("boot after the commit: %+v, want B committed with v2", b)
		}
		if out := c.run("cat /data/keep.txt; cat /etc/not-kept"); !strings.Contains(out, "kept-across-updates") || strings.Contains(out, "gone") {
			t.Errorf("after the update: /data must be kept and the root's tmpfs gone:\n%s", out)
		}
	})

	step("6-downgrade-refused", func(t *testing.T) {
		if out := install("v1"); !regexp.MustCompile(`genai-update: refused: .*(downgrade|older|0\.1\.0)`).MatchString(out) {
			t.Errorf("v1 on v2: want a downgrade refused:\n%s", out)
		}
	})

	step("3-health-check-fails", func(t *testing.T) {
		installReboot("v3")
		c.wait(`genai-update: installed slot=A version=0.3.0`, 3*time.Minute)
		g := c.wait(`genai-grub: slot=(\w+) trial=(\w+) left=(\d)`, 4*time.Minute)
		if g[1] != "A" || g[2] != "A" {
			t.Errorf("trial boot of v3: %q", g[0])
		}
		c.wait(`genai-os: update rolled back slot=A version=0.3.0 reason=health`, 4*time.Minute)
		b := c.waitBoot(4 * time.Minute)
		if b.grubSlot != "B" || b.booted != "B" || b.active != "B" || b.trial != "none" {
			t.Errorf("after v3's failed trial: %+v, want B", b)
		}
		if out := c.run("genai-update status"); !regexp.MustCompile(`rolled-back slot=A version=0.3.0`).MatchString(out) {
			t.Errorf("status after v3:\n%s", out)
		}
	})

	step("4-kernel-panics", func(t *testing.T) {
		installReboot("v4")
		c.wait(`genai-update: installed slot=A version=0.4.0`, 3*time.Minute)
		// three tries, each a panic and a reboot after panic=10, then the committed slot
		for _, left := range []string{"2", "1", "0"} {
			g := c.wait(`genai-grub: slot=(\w+) trial=(\w+) left=(\d)`, 4*time.Minute)
			if g[1] != "A" || g[3] != left {
				t.Fatalf("try with %s left: %q", left, g[0])
			}
			c.wait(`Kernel panic`, 3*time.Minute)
		}
		b := c.waitBoot(4 * time.Minute)
		if b.grubSlot != "B" || b.grubTrial != "none" || b.booted != "B" {
			t.Errorf("after v4's tries: %+v, want B with no trial", b)
		}
		// printed before the ready line of that boot
		if _, err := c.m.Find(regexp.MustCompile(`genai-os: update rolled back slot=A version=0.4.0 reason=tries`), time.Second); err != nil {
			t.Errorf("no rollback line for v4: %v", err)
		}
	})

	step("5-power-cut", func(t *testing.T) {
		// the server stops at 60 %: the cut comes while the slot is half written
		if err := c.m.Send("genai-update install " + url + "stall/v3.bundle\r"); err != nil {
			t.Fatal(err)
		}
		c.wait(`genai-update: progress=50%`, 3*time.Minute)
		c.m.Kill()
		env := diskEnv(t, dev)
		if env.Active != ab.B || env.Trial != "" || env.SpareOK {
			t.Errorf("boot state after the cut: %v, want B active, no trial, spare not ok", env)
		}
		m2 := startVM(top, cfg, 10*time.Minute) // lives on for the next scenario
		c.m = m2
		b := c.waitBoot(4 * time.Minute)
		if b.grubSlot != "B" || b.booted != "B" || b.trial != "none" {
			t.Errorf("boot after the cut: %+v, want B", b)
		}
		out := install("v3")
		if !strings.Contains(out, "exit=0") {
			t.Errorf("retry after the cut:\n%s", out)
		}
		c.wait(`genai-update: installed slot=A version=0.3.0`, 3*time.Minute)
	})

	step("7-data-kept", func(t *testing.T) {
		if out := c.run("cat /data/keep.txt"); !strings.Contains(out, "kept-across-updates") {
			t.Errorf("/data/keep.txt after every update:\n%s", out)
		}
	})
}

// reboot presses Ctrl-Alt-Del: the init stops the units, syncs and reboots (the test edition's
// u-root shell has no command that asks the init).
func reboot(t *testing.T, m *qemu.Machine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.SendKeys(ctx, "ctrl", "alt", "delete"); err != nil {
		t.Fatal(err)
	}
}

// diskEnv reads the boot state of a disk image from the host, as the device's ESP holds it
// (grubenv, the copy that decides), without repairing anything.
func diskEnv(t *testing.T, disk string) ab.Env {
	t.Helper()
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := gpt.Read(f, 512, 512)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	p := tbl.Partitions[0]
	s, err := ab.OpenStoreAt(disk, int64(p.Start)*512, int64(p.Size))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	envs, errs := s.Copies()
	if errs[0] != nil {
		t.Fatalf("grubenv: %v", errs[0])
	}
	return envs[0]
}
