// Package boot_test builds the editions' images once each and boots them in QEMU. TestBootMatrix is
// the matrix edition × output × firmware × medium: the hybrid ISO in every mode it promises (BIOS
// and UEFI, with and without Secure Boot, from a CD drive and a USB stick) and the kernel-initrd
// output booted directly. Each boot must reach the init's ready line on the serial console.
//
// The build uses the same cache as the CLI (GENAI_BUILD_CACHE or the XDG cache), so a warm cache
// makes it fast; set GENAI_BOOT_TESTS=0 to skip the boots (e.g. on a machine without QEMU).
package boot_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

const root = "../.."

// The boot tests give the guest one CPU: under multi-threaded TCG, a guest kernel patching its own
// code on one vCPU while another runs it has been seen to crash with an int3 oops at boot (once in
// many boots here, in `make bench`). One vCPU is also all these tests need.

// isos holds the images this package builds, each built once for all its tests.
var isos = struct {
	sync.Mutex
	m map[string]*isoBuild
}{m: map[string]*isoBuild{}}

type isoBuild struct {
	once sync.Once
	res  *build.Result
	err  error
}

// sourceDate is fixed so that the image is the same in every run of the tests; SOURCE_DATE_EPOCH
// overrides it, so that CI's boot jobs boot the very images its release job ships (genai-build
// release --tested checks the digests TestBootMatrix logs).
var sourceDate = func() time.Time {
	if n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return time.Unix(n, 0).UTC()
	}
	return time.Unix(1764000000, 0).UTC()
}()

func testCache(t testing.TB) *cache.Cache {
	dir, err := cache.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return &cache.Cache{Dir: dir}
}

// buildISO builds an edition (opts.Edition, default server) with opts' extras once per name, into
// a folder that outlives the test that asked first.
func buildISO(t *testing.T, name string, opts build.Options) *build.Result {
	t.Helper()
	isos.Lock()
	b, ok := isos.m[name]
	if !ok {
		b = &isoBuild{}
		isos.m[name] = b
	}
	isos.Unlock()
	b.once.Do(func() {
		m, sec, err := mirrors()
		if err != nil {
			b.err = err
			return
		}
		out, err := os.MkdirTemp("", "genai-boot-test-*")
		if err != nil {
			b.err = err
			return
		}
		if opts.Edition == "" {
			opts.Edition = "server"
		}
		opts.Root, opts.OutDir, opts.Cache, opts.Mirror, opts.Security, opts.SourceDate = root, out, testCache(t), m, sec, sourceDate
		b.res, b.err = build.Run(context.Background(), opts)
	})
	if b.err != nil {
		t.Fatalf("building %s: %v", name, b.err)
	}
	return b.res
}

// mirrors are the main and security archives as genai-build finds them. The security one may be
// missing when everything the lock takes from it is cached.
func mirrors() (m, sec debian.Mirror, err error) {
	if m, err = debian.ResolveMirror("", os.Getenv, "/"); err != nil {
		return m, sec, err
	}
	if sec, err = debian.ResolveSecurityMirror("", os.Getenv, "/"); errors.Is(err, debian.ErrNoSecurityMirror) {
		err = nil
	}
	return m, sec, err
}

// serverISO is the server edition as `genai-build iso --edition server` builds it.
func serverISO(t *testing.T) *build.Result { return buildISO(t, "server", build.Options{}) }

// startVM boots cfg in QEMU for at most limit and kills it when the test ends. The guest gets one
// vCPU unless cfg says otherwise: with two, QEMU 7.2's multi-threaded TCG has crashed a guest
// kernel while it patched its own code.
func startVM(t *testing.T, cfg qemu.Config, limit time.Duration) *qemu.Machine {
	t.Helper()
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	m, err := qemu.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Kill()
		cancel()
	})
	return m
}

// chooseDebug picks the debug entry at ISOLINUX's prompt (BIOS): its kernel command line has
// init.debug, with which the init logs root in on the serial console, so the test can type
// commands there. The default entry asks for a login, and root has no password.
func chooseDebug(t *testing.T, m *qemu.Machine) {
	t.Helper()
	if err := m.Expect("boot: ", 3*time.Minute); err != nil {
		t.Fatalf("no ISOLINUX prompt: %v\n%s", err, m.Console())
	}
	if err := m.Send("debug\r"); err != nil {
		t.Fatal(err)
	}
}

func needQEMU(t *testing.T) {
	t.Helper()
	if os.Getenv("GENAI_BOOT_TESTS") == "0" {
		if os.Getenv("CI") != "" {
			t.Fatal("GENAI_BOOT_TESTS=0 is refused when CI is set: CI must boot every image (unset GENAI_BOOT_TESTS, or unset CI on a developer machine without QEMU)")
		}
		t.Skip("SKIPPED: GENAI_BOOT_TESTS=0, no image is booted")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatalf("%v (boot tests need it; set GENAI_BOOT_TESTS=0 to skip them)", qemu.ErrNoQEMU)
	}
}

// serverBootUnits is how many units the server edition starts at boot: sshd.socket (sshd and its
// host key start on the first connection).
const serverBootUnits = "1"

var ready = readyLine("server")

// readyLine matches an edition's ready line: level, boot time, units up and units.
func readyLine(edition string) *regexp.Regexp {
	return regexp.MustCompile(`genai-os: ready edition=` + regexp.QuoteMeta(edition) + ` level=([0-9.]+) boot_ms=([0-9]+) services=([0-9]+)/([0-9]+)`)
}

// bootRow is one boot of the matrix: an edition written in one output format, started by a
// firmware from a medium. The kernel-initrd output is booted directly (QEMU's -kernel, SeaBIOS,
// no medium).
type bootRow struct {
	edition string
	output  string
	fw      qemu.Firmware
	media   qemu.Media // "" for a direct boot
	// level and units are what the ready line must say: the edition's level, its boot units.
	level, units string
}

func (r bootRow) name() string {
	if r.media == "" {
		return fmt.Sprintf("%s-%s-direct", r.edition, r.output)
	}
	return fmt.Sprintf("%s-%s-%s-%s", r.edition, r.output, r.fw, r.media)
}

// bootMatrix are the rows: each edition that boots, in each of its outputs, in every mode the
// output promises.
func bootMatrix() []bootRow {
	var rows []bootRow
	for _, e := range []struct {
		edition      string
		outputs      []string
		level, units string
	}{
		{"server", []string{"iso", "kernel-initrd"}, "0.7", serverBootUnits},
		{liveEdition, []string{"iso"}, "0.7", serverBootUnits},
		// the developer edition is the server's units over a root on the medium
		{"developer", []string{"iso"}, "0.7", serverBootUnits},
		// the desktop is ready when its session is up: it needs a graphics card (desktopVM)
		{"desktop", []string{"iso"}, "0.7", desktopBootUnits},
	} {
		for _, o := range e.outputs {
			switch o {
			case "iso":
				for _, fw := range qemu.Firmwares {
					for _, media := range qemu.ISOMedias {
						rows = append(rows, bootRow{e.edition, o, fw, media, e.level, e.units})
					}
				}
			case "kernel-initrd":
				rows = append(rows, bootRow{e.edition, o, qemu.BIOS, "", e.level, e.units})
			}
		}
	}
	return rows
}

// machine builds the row's edition in the row's output (once for all rows that share them) and
// returns the virtual machine that boots it.
func (r bootRow) machine(t *testing.T) qemu.Config {
	if r.output == "iso" {
		res := buildISO(t, r.edition, build.Options{Edition: r.edition, EditionsDir: editionsDir(t, r.edition)})
		cfg := qemu.Config{Image: res.Image, Firmware: r.fw, Media: r.media, CPUs: 1}
		if r.edition == "desktop" { // sway needs a display, Firefox memory
			cfg.Display, cfg.MemoryMB = qemu.StdVGA, 2048
		}
		return cfg
	}
	res := buildISO(t, r.edition+"+"+r.output, build.Options{Edition: r.edition, Outputs: []string{r.output}})
	cfg := qemu.Config{Firmware: r.fw, CPUs: 1, Append: strings.Join(res.ManifestData.Cmdline, " ")}
	for _, im := range res.Images {
		switch im.Format {
		case "vmlinuz":
			cfg.Kernel = im.Path
		case "initrd":
			cfg.Initrd = im.Path
		}
	}
	if cfg.Kernel == "" || cfg.Initrd == "" {
		t.Fatalf("%s wrote %+v, want a kernel and an initramfs", r.output, res.Images)
	}
	return cfg
}

// imageSHA256 is the SHA-256 of the file the row boots: the ISO, or the initramfs of a direct boot.
func (r bootRow) imageSHA256(t *testing.T) string {
	if r.output == "iso" {
		return buildISO(t, r.edition, build.Options{Edition: r.edition, EditionsDir: editionsDir(t, r.edition)}).SHA256
	}
	for _, im := range buildISO(t, r.edition+"+"+r.output, build.Options{Edition: r.edition, Outputs: []string{r.output}}).Images {
		if im.Format == "initrd" {
			return im.SHA256
		}
	}
	return ""
}

// TestBootMatrix boots each row of the matrix edition × output × firmware × medium.
func TestBootMatrix(t *testing.T) {
	needQEMU(t)
	for _, row := range bootMatrix() {
		t.Run(row.name(), func(t *testing.T) {
			t.Parallel()
			if drive := desktopRows[row.name()]; drive != nil {
				drive(t, row)
				return
			}
			ready := readyLine(row.edition)
			r, err := qemu.Boot(context.Background(), row.machine(t), qemu.Watch{Ready: ready, Timeout: 4 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if want := firmwareLine(row.fw); !strings.Contains(string(r.Console), want) {
				t.Errorf("the init did not report %q", want)
			}
			if row.edition == liveEdition || row.edition == "developer" {
				checkLiveMedium(t, row, r)
			}
			sm := ready.FindStringSubmatch(r.ReadyLine)
			if sm[1] != row.level {
				t.Errorf("level = %s, want the edition's %s: %s", sm[1], row.level, r.ReadyLine)
			}
			if ok, total := sm[3], sm[4]; ok != total || total != row.units {
				t.Errorf("services=%s/%s, want %s/%s (the edition's boot units, all up): %s", ok, total, row.units, row.units, r.ReadyLine)
			}
			// genai-build release --tested reads the image's digest from this line.
			t.Logf("%s: ready after %.1fs wall (%s), image sha256=%s: %s", row.name(), r.ReadyAt.Seconds(), r.Accel, row.imageSHA256(t), r.ReadyLine)
		})
	}
}

// firmwareLine is the init's line for the firmware a row boots with.
func firmwareLine(fw qemu.Firmware) string {
	return "genai-os: boot " + map[qemu.Firmware]string{qemu.BIOS: "firmware=bios secureboot=off",
		qemu.UEFI: "firmware=uefi secureboot=off", qemu.SecureBoot: "firmware=uefi secureboot=on"}[fw]
}

// liveEdition is the server's contents with the root on the medium (placement image): the
// checkout has no such edition, so the test writes it beside copies of the checkout's editions.
const liveEdition = "server-live"

const liveEditionYAML = `# test/boot: the server edition with its root on the medium.
name: server-live
extends: server
description: Headless server, root in SquashFS layers on the medium under a tmpfs
root:
  placement: image
  tmpfs: 50%
`

// editionsDir is where an edition of the matrix is read from: the checkout's editions, and for
// liveEdition a folder that holds copies of them and the live variant (Options.EditionsDir: the
// recipes, overlays, lock and Go sources stay the checkout's).
func editionsDir(t *testing.T, edition string) string {
	t.Helper()
	if edition != liveEdition {
		return ""
	}
	liveEditions.once.Do(func() { liveEditions.dir, liveEditions.err = writeLiveEditions() })
	if liveEditions.err != nil {
		t.Fatal(liveEditions.err)
	}
	return liveEditions.dir
}

// liveEditions is the folder editionsDir writes, once.
var liveEditions struct {
	once sync.Once
	dir  string
	err  error
}

// writeLiveEditions makes <tmp>/editions with copies of the checkout's editions and the live
// variant.
func writeLiveEditions() (string, error) {
	return writeEditions(map[string]string{liveEdition: liveEditionYAML})
}

// writeEditions makes <tmp>/editions with copies of the checkout's editions and extra (YAML by
// edition name); the edition loader checks recipes, overlays and kernel fragments in the folder
// above it, so the checkout's other top-level entries are linked there.
func writeEditions(extra map[string]string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	top, err := os.MkdirTemp("", "genai-boot-editions-*")
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() == "editions" {
			continue
		}
		if err := os.Symlink(filepath.Join(abs, e.Name()), filepath.Join(top, e.Name())); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(top, "editions")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	src, err := filepath.Glob(filepath.Join(abs, "editions", "*.yaml"))
	if err != nil || len(src) == 0 {
		return "", fmt.Errorf("the checkout's editions: %v (%d files)", err, len(src))
	}
	for _, f := range src {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			return "", err
		}
	}
	for name, yaml := range extra {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(yaml), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// checkLiveMedium checks that stage 1 found the medium of this very ISO (the build id of its
// /live/build-id) before stage 2 said it was ready.
func checkLiveMedium(t *testing.T, row bootRow, r *qemu.Result) {
	t.Helper()
	res := buildISO(t, row.edition, build.Options{Edition: row.edition, EditionsDir: editionsDir(t, row.edition)})
	id, err := iso.ReadFile(res.Image, "live/build-id")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(id))
	if len(want) != 64 || want != res.BuildID {
		t.Fatalf("/live/build-id = %q, the build said %q", want, res.BuildID)
	}
	console := string(r.Console)
	m := regexp.MustCompile(`genai-os: live medium dev=(\S+) build=([0-9a-f]+) layers=` + fmt.Sprint(len(res.Layers)) + ` `).FindStringSubmatchIndex(console)
	if m == nil {
		t.Fatalf("no live medium line with layers=%d (the build's) on the console", len(res.Layers))
	}
	if got := console[m[4]:m[5]]; got != want[:8] {
		t.Errorf("live medium build=%s, want %s (the ISO's /live/build-id)", got, want[:8])
	}
	if ri := strings.Index(console, r.ReadyLine); ri >= 0 && ri < m[0] {
		t.Errorf("the ready line came before the live medium line")
	}
	t.Logf("%s: %s", row.name(), console[m[0]:strings.IndexByte(console[m[0]:], '\n')+m[0]])
}

// TestImageLayout reads the built ISO back: both boot entries, the hybrid MBR, and the files.
func TestImageLayout(t *testing.T) {
	res := serverISO(t)
	rep, err := iso.Inspect(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, e := range rep.BootEntries {
		platforms = append(platforms, e.Platform+":"+e.File)
	}
	if got, want := strings.Join(platforms, " "), "BIOS:isolinux/isolinux.bin UEFI:boot/efi.img"; got != want {
		t.Errorf("boot entries = %q, want %q", got, want)
	}
	if len(rep.Partitions) < 2 || !rep.Partitions[0].Bootable || rep.Partitions[1].Type != 0xEF {
		t.Errorf("partitions = %+v, want a bootable whole-image partition and an ESP (0xEF)", rep.Partitions)
	}
	if rep.Size%(1<<20) != 0 {
		t.Errorf("size %d is not a whole number of MiB (isohybrid padding)", rep.Size)
	}
	files := map[string]int64{}
	for _, f := range rep.Files {
		files[f.Path] = f.Size
	}
	for _, p := range []string{"boot/vmlinuz", "boot/initrd.img", "boot/grub/grub.cfg", "boot/efi.img", "isolinux/isolinux.cfg", "isolinux/ldlinux.c32", ".disk/info", "genai/build.json"} {
		if files[p] == 0 {
			t.Errorf("%s missing or empty", p)
		}
	}
	cfg, err := iso.ReadFile(res.Image, "boot/grub/grub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"consciousness.level=0\n", "init.debug", "console=ttyS0,115200"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("grub.cfg lacks %q", want)
		}
	}
	sum, err := os.ReadFile(res.Checksum)
	if err != nil || !strings.HasPrefix(string(sum), res.SHA256+"  "+filepath.Base(res.Image)) {
		t.Errorf("checksum file = %q, %v", sum, err)
	}
}
