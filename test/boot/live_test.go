package boot_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"

	"github.com/genai-os/genai-build/initramfs/live"
	"github.com/genai-os/genai-build/initramfs/rootcheck"
	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/initrd"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/kmod"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/squashfs"
)

// The tests of this file boot a root on the medium (issue 9, placement: image) without the build
// side: each makes its own medium (an ISO 9660 image holding /live/*, the layers written by
// internal/squashfs) and its own early initramfs (the server build's init and module segment,
// plus loop, squashfs and overlay from the kernel package, live.conf and a root manifest), and
// boots the server ISO's kernel directly with the medium attached as a CD, a USB stick or a
// second virtio disk.

// liveMarker is a file of the system layer that a test reads from the root.
const liveMarker = "this root came from the medium\n"

// liveParts is what every live test shares, made once.
var liveParts struct {
	once   sync.Once
	err    error
	kernel string            // the server ISO's vmlinuz, on disk
	kver   string            // its version
	init   *fstree.Tree      // the consciousness-init segment
	uroot  *fstree.Tree      // the u-root-core segment
	mods   *fstree.Tree      // the kernel-modules segment
	extra  map[string][]byte // loop, squashfs, overlay (.ko.xz) by module path
	layers map[string][]byte // packages, programs, system: squashfs images
	dir    string
}

// liveLayers are this test's layers, lowest first, as the contract names them.
var liveLayers = []string{"packages", "programs", "system"}

func liveSetup(t *testing.T) {
	t.Helper()
	needQEMU(t)
	res := serverISO(t)
	liveParts.once.Do(func() { liveParts.err = makeLiveParts(t, res) })
	if liveParts.err != nil {
		t.Fatal(liveParts.err)
	}
}

func makeLiveParts(t *testing.T, res *build.Result) error {
	p := &liveParts
	dir, err := os.MkdirTemp("", "genai-live-test-*")
	if err != nil {
		return err
	}
	p.dir = dir
	kernel, err := iso.ReadFile(res.Image, "boot/vmlinuz")
	if err != nil {
		return err
	}
	p.kernel = filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(p.kernel, kernel, 0o644); err != nil {
		return err
	}
	p.kver = res.KernelVer
	for name, dst := range map[string]**fstree.Tree{"consciousness-init": &p.init, "u-root-core": &p.uroot, "kernel-modules": &p.mods} {
		if *dst, err = segmentTree(res, name); err != nil {
			return err
		}
	}
	if p.extra, err = kernelModules(t, "drivers/block/loop.ko.xz", "fs/squashfs/squashfs.ko.xz", "fs/overlayfs/overlay.ko.xz"); err != nil {
		return err
	}
	// The layers: Go programs from the build (the init, u-root's commands) and a system layer with
	// the configuration a stage-2 boot reads and a file for the tests to read.
	system := fstree.New()
	for p, data := range map[string]string{
		"etc/consciousness/boot.conf":             "edition = server\nhostname = live\nnetwork.mode = off\n",
		"etc/os-release":                          "ID=genai-os\nVERSION_ID=0.1.0\nVARIANT_ID=server\n",
		"etc/consciousness/services/hold.service": "[Unit]\nDescription=a unit of the system layer\n\n[Service]\nExecStart=/usr/bin/sleep 100000\n",
		"etc/passwd":                              "root:x:0:0:root:/root:/usr/bin/gosh\n",
		"etc/group":                               "root:x:0:\n",
		"etc/live-marker":                         liveMarker,
		"usr/share/live-test/big":                 strings.Repeat("a layer's block of data\n", 20000),
	} {
		if err := system.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: []byte(data), Size: int64(len(data))}); err != nil {
			return err
		}
	}
	if err := system.Add(fstree.Entry{Path: "bin", Kind: fstree.Symlink, Mode: 0o777, Target: "usr/bin"}); err != nil {
		return err
	}
	p.layers = map[string][]byte{}
	for name, tree := range map[string]*fstree.Tree{"packages": p.uroot, "programs": p.init, "system": system} {
		f := filepath.Join(dir, name+".squashfs")
		out, err := os.Create(f)
		if err != nil {
			return err
		}
		_, err = squashfs.Write(out, tree, squashfs.Options{SourceDate: sourceDate})
		out.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", name, err)
		}
		if p.layers[name], err = os.ReadFile(f); err != nil {
			return err
		}
	}
	return nil
}

// segmentTree reads one of the build's initramfs segments (zstd-compressed newc cpio) back into a
// tree.
func segmentTree(res *build.Result, name string) (*fstree.Tree, error) {
	for _, s := range res.Segments {
		if s.Name != name {
			continue
		}
		raw := s.Data
		if s.Path != "" {
			var err error
			if raw, err = os.ReadFile(s.Path); err != nil {
				return nil, err
			}
		}
		dec, err := zstd.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		data, err := io.ReadAll(dec)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", name, err)
		}
		recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(data)))
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", name, err)
		}
		tree := fstree.New()
		for _, r := range recs {
			p := strings.TrimPrefix(path.Clean("/"+r.Name), "/")
			if p == "" || r.Name == cpio.Trailer {
				continue
			}
			e := fstree.Entry{Path: p, Mode: os.FileMode(r.Mode & 0o7777), UID: int(r.UID), GID: int(r.GID)}
			body := make([]byte, r.FileSize)
			if r.FileSize > 0 {
				if _, err := r.ReadAt(body, 0); err != nil && err != io.EOF {
					return nil, err
				}
			}
			switch r.Mode & cpio.S_IFMT {
			case cpio.S_IFDIR:
				e.Kind = fstree.Dir
			case cpio.S_IFREG:
				e.Kind, e.Data, e.Size = fstree.File, body, int64(len(body))
			case cpio.S_IFLNK:
				e.Kind, e.Target = fstree.Symlink, string(body)
			default:
				continue
			}
			if err := tree.Add(e); err != nil {
				return nil, fmt.Errorf("segment %s: %w", name, err)
			}
		}
		return tree, nil
	}
	return nil, fmt.Errorf("no segment %q", name)
}

// kernelModules reads modules (paths under kernel/) from the locked kernel package.
func kernelModules(t *testing.T, paths ...string) (map[string][]byte, error) {
	var suffixes []string
	for _, p := range paths {
		suffixes = append(suffixes, "/kernel/"+p)
	}
	found := kernelFiles(t, suffixes...)
	out := map[string][]byte{}
	for _, p := range paths {
		data := found["/kernel/"+p]
		if data == nil {
			return nil, fmt.Errorf("no %s in the kernel package", p)
		}
		out["kernel/"+p] = data
	}
	return out, nil
}

// buildID is the contract's build id: SHA-256 over the layer images' digests, in order.
func buildID(layers map[string][]byte) string {
	h := sha256.New()
	for _, name := range liveLayers {
		sum := sha256.Sum256(layers[name])
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// liveMedium writes an ISO 9660 image holding /live/* for id (the layers' own id when empty:
// another id makes another build's medium) and returns its path.
func liveMedium(t *testing.T, id string) string {
	t.Helper()
	p := &liveParts
	if id == "" {
		id = buildID(p.layers)
	}
	files := fstree.New()
	add := func(name string, data []byte) {
		if err := files.Add(fstree.Entry{Path: name, Kind: fstree.File, Mode: 0o644, Data: data, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
	}
	var index strings.Builder
	for _, name := range liveLayers {
		sum := sha256.Sum256(p.layers[name])
		fmt.Fprintf(&index, "%s %d %x\n", name, len(p.layers[name]), sum)
		add("live/"+name+".squashfs", p.layers[name])
	}
	add(live.BuildIDPath, []byte(id+"\n"))
	add(live.LayersPath, []byte(index.String()))
	out := filepath.Join(t.TempDir(), "live.iso")
	if err := iso.Write(context.Background(), out, iso.Spec{VolumeID: "GENAI_LIVE_" + strings.ToUpper(id[:8]), SourceDate: sourceDate, Files: files}); err != nil {
		t.Fatal(err)
	}
	return out
}

// earlyInitrd writes the early initramfs of a placement-image build: a first segment with the
// root manifest, then one with the init, the storage modules (the server's, plus loop, squashfs
// and overlay), their lists and live.conf.
func earlyInitrd(t *testing.T) string {
	t.Helper()
	p := &liveParts
	early := fstree.New()
	var mods, deps, aliases []string
	for _, src := range []*fstree.Tree{p.init, p.mods} {
		for _, e := range src.Entries() {
			switch e.Path {
			case "etc/consciousness/modules":
				mods = append(mods, strings.Fields(string(e.Data))...)
				continue
			case "etc/consciousness/modules.dep":
				deps = append(deps, strings.Split(strings.TrimSpace(string(e.Data)), "\n")...)
				continue
			case "etc/consciousness/modules.alias":
				aliases = append(aliases, strings.Split(strings.TrimSpace(string(e.Data)), "\n")...)
				continue
			}
			if _, ok := early.Get(e.Path); ok && e.Kind == fstree.Dir {
				continue
			}
			if err := early.Add(*e); err != nil {
				t.Fatal(err)
			}
		}
	}
	for rel, data := range p.extra {
		dst := path.Join("usr/lib/modules", p.kver, rel)
		info, err := kmod.ReadModInfo(mustDecompress(t, data))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range info.Aliases {
			aliases = append(aliases, "alias "+a+" "+kmod.Canonical(kmod.NameFromPath(rel)))
		}
		mods = append(mods, "/"+dst)
		deps = append(deps, "/"+dst+":")
		addFile(t, early, dst, 0o644, data)
	}
	conf := fmt.Sprintf("build-id=%s\nlayers=%s\n", buildID(p.layers), strings.Join(liveLayers, ","))
	for name, lines := range map[string][]string{"modules": mods, "modules.dep": deps, "modules.alias": aliases} {
		addFile(t, early, "etc/consciousness/"+name, 0o644, []byte(strings.Join(lines, "\n")+"\n"))
	}
	addFile(t, early, live.ConfPath, 0o644, []byte(conf))
	manifest := fstree.New()
	m := rootcheck.Manifest{Edition: "server", Segments: []rootcheck.Segment{
		{Name: "early", Entries: len(early.Entries()), Kind: "file", Size: int64(len(conf)), Path: live.ConfPath}}}
	addFile(t, manifest, rootcheck.Path, 0o644, m.Marshal())

	var parts []io.Reader
	for _, tree := range []*fstree.Tree{manifest, early} {
		var b bytes.Buffer
		if err := initrd.Write(&b, tree, initrd.Options{SourceDate: sourceDate, Compression: initrd.Zstd}); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &b)
	}
	out := filepath.Join(t.TempDir(), "early.img")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	err = initrd.Concat(f, parts...)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustDecompress(t *testing.T, b []byte) []byte {
	t.Helper()
	d, err := kmod.Decompress(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// liveVM boots the server ISO's kernel directly with the early initramfs, cmdline and the
// medium's QEMU arguments.
func liveVM(t *testing.T, cmdline string, medium []string) *qemu.Machine {
	t.Helper()
	cfg := qemu.Config{Kernel: liveParts.kernel, Initrd: earlyInitrd(t),
		Append: "console=ttyS0,115200 " + cmdline, Extra: medium}
	return startVM(t, cfg, 6*time.Minute)
}

var (
	liveFound  = regexp.MustCompile(`genai-os: live medium dev=(\S+) build=([0-9a-f]{8}) layers=3 ms=([0-9]+) boot_ms=([0-9]+)`)
	liveSwitch = regexp.MustCompile(`root mounted, switching .*ms=([0-9]+) boot_ms=([0-9]+)`)
	liveReady  = regexp.MustCompile(`genai-os: ready edition=server level=\S+ boot_ms=([0-9]+) services=1/1 init_ms=([0-9]+)`)
)

// bootLive boots with the medium attached by args and checks the lines from the medium found to
// the stage-2 ready line; it returns the machine and the device the medium was found on.
func bootLive(t *testing.T, cmdline string, args []string) (*qemu.Machine, string) {
	t.Helper()
	m := liveVM(t, cmdline, args)
	found, err := m.WaitFor(liveFound)
	if err != nil {
		t.Fatalf("no medium found: %v\n%s", err, m.Console())
	}
	if _, err := m.WaitFor(liveReady); err != nil {
		t.Fatalf("no stage-2 ready line: %v\n%s", err, m.Console())
	}
	c := string(m.Console())
	sw := liveSwitch.FindStringSubmatch(c)
	rd := liveReady.FindStringSubmatch(c)
	fd := liveFound.FindStringSubmatch(found)
	if sw == nil {
		t.Fatalf("no switch line:\n%s", c)
	}
	if fd[2] != buildID(liveParts.layers)[:8] {
		t.Errorf("found build %s, want %s", fd[2], buildID(liveParts.layers)[:8])
	}
	t.Logf("medium on %s: /init to medium found %s ms, to the switch %s ms (kernel clock %s ms, %s ms); stage-2 ready at %s ms of guest time (stage 2's init %s ms)",
		fd[1], fd[3], sw[1], fd[4], sw[2], rd[1], rd[2])
	if strings.Contains(c, "failed reason=") {
		t.Errorf("a failed line on the console:\n%s", c)
	}
	return m, fd[1]
}

// Medium attachments, as QEMU arguments for an ISO at iso.
func cdArgs(iso string) []string {
	return []string{"-drive", "if=none,id=live,media=cdrom,readonly=on,format=raw,file=" + iso, "-device", "ide-cd,drive=live,id=cd0"}
}

func usbArgs(iso string) []string {
	return []string{"-device", "qemu-xhci,id=xhci", "-drive", "if=none,id=live,readonly=on,format=raw,file=" + iso,
		"-device", "usb-storage,bus=xhci.0,drive=live,removable=on"}
}

// TestLiveRoot boots the root from the medium on a CD, a USB stick and a second virtio disk (the
// first one blank): each is found by the build id, never by name, and the boot reaches stage 2's
// ready line with the system layer's unit.
func TestLiveRoot(t *testing.T) {
	liveSetup(t)
	img := liveMedium(t, "")
	blank := filepath.Join(t.TempDir(), "blank.img")
	if err := os.WriteFile(blank, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		dev  *regexp.Regexp
	}{
		{"cd", cdArgs(img), regexp.MustCompile(`^sr[0-9]+$`)},
		{"usb", usbArgs(img), regexp.MustCompile(`^sd[a-z]+$`)},
		{"virtio-second-disk", []string{"-drive", "if=virtio,format=raw,file=" + blank,
			"-drive", "if=virtio,format=raw,readonly=on,file=" + img}, regexp.MustCompile(`^vdb$`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, dev := bootLive(t, "consciousness.test=poweroff", tc.args)
			if !tc.dev.MatchString(dev) {
				t.Errorf("medium found on %s, want a device like %s", dev, tc.dev)
			}
			if err := m.Wait(); err != nil {
				t.Errorf("power-off after the ready line: %v", err)
			}
		})
	}
}

// TestLiveNoMedium boots without a medium: after the timeout given on the command line the init
// says what it looked for and what it saw, and (consciousness.test) powers off.
func TestLiveNoMedium(t *testing.T) {
	liveSetup(t)
	blank := filepath.Join(t.TempDir(), "blank.img")
	if err := os.WriteFile(blank, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	m := liveVM(t, "consciousness.test=poweroff consciousness.live.timeout=4", []string{"-drive", "if=virtio,format=raw,file=" + blank})
	line, err := m.WaitFor(verdict)
	if err != nil {
		t.Fatalf("no verdict: %v\n%s", err, m.Console())
	}
	t.Logf("verdict: %s", line)
	want := regexp.MustCompile(`genai-os: failed reason=medium edition=server build=` + buildID(liveParts.layers)[:8] +
		` timeout_s=4 looked_for=/live/build-id seen=".*vda: not iso9660`)
	if !want.MatchString(line) {
		t.Errorf("verdict %q, want %s", line, want)
	}
	if err := m.Wait(); err != nil {
		t.Errorf("power-off after the failed line: %v", err)
	}
	if strings.Contains(string(m.Console()), "genai-os: ready") {
		t.Error("a ready line without a medium")
	}
}

// TestLiveOtherBuild offers another build's medium on the CD: it is refused and named, and the
// boot fails after the timeout.
func TestLiveOtherBuild(t *testing.T) {
	liveSetup(t)
	other := strings.Repeat("0123abcd", 8)
	m := liveVM(t, "consciousness.test=poweroff consciousness.live.timeout=5", cdArgs(liveMedium(t, other)))
	line, err := m.WaitFor(verdict)
	if err != nil {
		t.Fatalf("no verdict: %v\n%s", err, m.Console())
	}
	t.Logf("verdict: %s", line)
	want := regexp.MustCompile(`genai-os: failed reason=medium .*seen=".*sr0: another build \(0123abcd\)`)
	if !want.MatchString(line) {
		t.Errorf("verdict %q, want %s", line, want)
	}
	if !regexp.MustCompile(`medium refused device=sr0 why="another build \(0123abcd\)"`).Match(m.Console()) {
		t.Errorf("no log line refusing sr0:\n%s", m.Console())
	}
}

// TestLiveToRAM boots with consciousness.live.toram from the CD, ejects the CD through QEMU's
// monitor once the system is up, and reads files of the root: the layers are in RAM.
func TestLiveToRAM(t *testing.T) {
	liveSetup(t)
	m, _ := bootLive(t, "consciousness.test=shell consciousness.live.toram consciousness.live.tmpfs=64m", cdArgs(liveMedium(t, "")))
	if err := m.Expect("$ ", 2*time.Minute); err != nil {
		t.Fatalf("no shell: %v\n%s", err, m.Console())
	}
	if l := regexp.MustCompile(`layers copied to RAM.*`).Find(m.Console()); l != nil {
		t.Logf("%s", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.QMP(ctx, "eject", map[string]any{"id": "cd0", "force": true}); err != nil {
		t.Fatalf("eject: %v", err)
	}
	run := shellRunner(t, m)
	if out := run("cat /etc/live-marker"); !strings.Contains(out, strings.TrimSpace(liveMarker)) {
		t.Errorf("reading the root after the eject:\n%s", out)
	}
	big := strings.Repeat("a layer's block of data\n", 20000)
	sum := sha256.Sum256([]byte(big))
	if out := run("shasum -a 256 /usr/share/live-test/big"); !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Errorf("a file of several blocks after the eject: want %x:\n%s", sum, out)
	}
	mounts := run("cat /proc/mounts")
	if strings.Contains(mounts, "iso9660") {
		t.Errorf("the medium is still mounted:\n%s", mounts)
	}
	for _, want := range []string{"/run/live/toram tmpfs", "overlay / overlay", "/run/live/cow tmpfs", "size=65536k"} {
		if !strings.Contains(mounts, want) {
			t.Errorf("/proc/mounts lacks %q:\n%s", want, mounts)
		}
	}
	// The initramfs was emptied: the early init's live.conf is gone with it.
	if out := run("ls /etc/consciousness"); strings.Contains(out, "live.conf") {
		t.Errorf("live.conf in the new root:\n%s", out)
	}
}

// TestLiveRescue boots the server-live build's own kernel and early initramfs (the ISO's
// /boot/vmlinuz and /boot/initrd.img, with its default entry's command line) with no medium at
// all. Stage 1 must name the build id it looked for and never reach a ready line; then init.debug
// gives a rescue shell (u-root's gosh, from the early initramfs) in which a command runs, and
// without it the machine halts showing the message, with no shell.
func TestLiveRescue(t *testing.T) {
	needQEMU(t)
	res := buildISO(t, liveEdition, build.Options{Edition: liveEdition, EditionsDir: editionsDir(t, liveEdition)})
	files := isoBootFiles(t, res.Image)
	if len(res.BuildID) != 64 {
		t.Fatalf("build id %q", res.BuildID)
	}
	failed := regexp.MustCompile(`genai-os: failed reason=medium edition=` + liveEdition + ` build=` + res.BuildID[:8] +
		` timeout_s=3 looked_for=/live/build-id seen="no block device at all"`)
	boot := func(t *testing.T, extra string) *qemu.Machine {
		t.Helper()
		cfg := qemu.Config{Kernel: files["boot/vmlinuz"], Initrd: files["boot/initrd.img"],
			Append: strings.Join(append(res.ManifestData.Cmdline, extra, "consciousness.live.timeout=3"), " ")}
		m := startVM(t, cfg, 6*time.Minute)
		line, err := m.WaitFor(verdict)
		if err != nil {
			t.Fatalf("no verdict: %v\n%s", err, m.Console())
		}
		if !failed.MatchString(line) {
			t.Fatalf("verdict %q, want %s\n%s", line, failed, m.Console())
		}
		if _, err := m.WaitFor(regexp.MustCompile(`no medium holding build ` + res.BuildID + ` turned up`)); err != nil {
			t.Errorf("no explanation naming the whole build id: %v", err)
		}
		t.Logf("%s", line)
		return m
	}
	noReady := func(t *testing.T, m *qemu.Machine) {
		t.Helper()
		if strings.Contains(string(m.Console()), "genai-os: ready") {
			t.Errorf("a ready line without a medium:\n%s", m.Console())
		}
	}

	t.Run("debug-shell", func(t *testing.T) {
		t.Parallel()
		m := boot(t, "init.debug")
		if err := m.Expect("$ ", 2*time.Minute); err != nil {
			t.Fatalf("no rescue shell prompt: %v\n%s", err, m.Console())
		}
		run := shellRunner(t, m)
		if out := run("echo rescue-ok"); !regexp.MustCompile(`(?m)^rescue-ok\r?$`).MatchString(out) {
			t.Errorf("echo in the rescue shell:\n%s", out)
		}
		if out := run("ls /dev"); !strings.Contains(out, "console") {
			t.Errorf("ls /dev in the rescue shell:\n%s", out)
		}
		noReady(t, m)
	})
	t.Run("halt", func(t *testing.T) {
		t.Parallel()
		m := boot(t, "")
		if _, err := m.WaitFor(regexp.MustCompile(`genai-os: halted; Ctrl-Alt-Del restarts the machine`)); err != nil {
			t.Fatalf("no halt message: %v\n%s", err, m.Console())
		}
		// The machine stays halted: no shell turns up.
		if err := m.Expect("$ ", 20*time.Second); err == nil {
			t.Errorf("a shell prompt without init.debug:\n%s", m.Console())
		}
		if strings.Contains(string(m.Console()), "rescue shell") {
			t.Errorf("a rescue shell without init.debug:\n%s", m.Console())
		}
		noReady(t, m)
	})
}
