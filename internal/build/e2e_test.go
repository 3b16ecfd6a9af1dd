package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"

	"github.com/genai-os/genai-build/initramfs/rootcheck"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debtest"
	"github.com/genai-os/genai-build/internal/iso"
)

// The test archive's suites are dated as Debian's are: the release, then its -updates and
// -security suites later. The lock is taken an hour after the last, the image dated a day later.
var (
	e2eRelease  = time.Date(2026, 11, 8, 9, 15, 44, 0, time.UTC)
	e2eUpdates  = time.Date(2026, 11, 20, 20, 12, 3, 0, time.UTC)
	e2eSecurity = time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC)
)

const (
	e2eKernel = "6.12.0-e2e-amd64"
	// The kernel as released, and as fixed in trixie-security: the lock must take the fix.
	e2eKernelRelease  = "6.12.0-1"
	e2eKernelSecurity = "6.12.0-1+deb13u1"
)

// testBytes is recognisable content for a fake file.
func testBytes(name string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + len(name))
	}
	return append([]byte(name+"\x00"), b...)
}

// fakeBzImage gives b the parts of an x86 boot protocol header the build reads (boot.rst:
// "HdrS" at 0x202, version 2.15 at 0x206, init_size at 0x260).
func fakeBzImage(b []byte, initSize uint32) []byte {
	b = bytes.Clone(b)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	binary.LittleEndian.PutUint32(b[0x260:], initSize)
	return b
}

// e2eSuites are the test archive's suites. trixie holds a kernel with three modules, the boot
// loaders, and a small set (hello, pulling in libhello) for a debian-packages recipe;
// trixie-updates a newer libhello; trixie-security a newer kernel (its own vmlinuz, the one
// returned). e2eWinners says which suite each package must be locked from.
func e2eSuites(t *testing.T) (suites []debtest.Suite, vmlinuz, isolinuxBin []byte) {
	vmlinuz = fakeBzImage(testBytes("vmlinuz "+e2eKernelSecurity, 4000), 24<<20)
	// isolinux.bin carries the isohybrid signature 0x7078c0fb (LE) at 0x40 (syslinux isohybrid.c).
	isolinuxBin = testBytes("isolinux.bin", 4096)
	copy(isolinuxBin[0x40:], []byte{0xFB, 0xC0, 0x78, 0x70})
	mods := "usr/lib/modules/" + e2eKernel + "/"
	ko := func(kv ...string) string { return string(debtest.Compress(t, debtest.KernelModule(t, kv...), ".xz")) }
	dir := func(p string) debtest.File { return debtest.File{Name: p, Type: tar.TypeDir} }
	file := func(p string, body []byte) debtest.File { return debtest.File{Name: p, Body: string(body)} }
	kernel := func(version string, vmlinuz []byte) []debtest.Pkg {
		return []debtest.Pkg{
			{Name: "linux-image-amd64", Version: version, Source: "linux-signed-amd64",
				Depends: "linux-image-" + e2eKernel + " (= " + version + ")", Files: []debtest.File{dir("./")}},
			{Name: "linux-image-" + e2eKernel, Version: version, Source: "linux-signed-amd64", Files: append([]debtest.File{
				dir("./"), dir("./boot/"),
				file("./boot/vmlinuz-"+e2eKernel, vmlinuz),
				file("./boot/config-"+e2eKernel, []byte("CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_ZSTD=y\nCONFIG_MODULES=y\n# CONFIG_E2E_OFF is not set\n")),
				file("./"+mods+"modules.builtin", []byte("kernel/drivers/e2e/e2e-builtin.ko\n")),
				{Name: "./" + mods + "kernel/drivers/e2e/e2e-core.ko.xz", Body: ko("name=e2e_core", "depends=", "license=GPL")},
				{Name: "./" + mods + "kernel/drivers/e2e/e2e-disk.ko.xz", Body: ko("name=e2e_disk", "depends=e2e_core,e2e_builtin", "alias=pci:v00001AF4d00001001sv*sd*bc*sc*i*", "license=GPL")},
				{Name: "./" + mods + "kernel/drivers/e2e/e2e-unused.ko.xz", Body: ko("name=e2e_unused", "depends=")},
			}, mediumModuleFiles(mods, ko)...)},
		}
	}
	libhello := func(version string) debtest.Pkg {
		return debtest.Pkg{Name: "libhello", Version: version, Source: "hello", Files: []debtest.File{
			file("./usr/lib/x86_64-linux-gnu/libhello.so.1", testBytes("libhello", 100)),
		}}
	}
	trixie := append(kernel(e2eKernelRelease, fakeBzImage(testBytes("vmlinuz "+e2eKernelRelease, 4000), 24<<20)),
		debtest.Pkg{Name: "isolinux", Version: "3:6.04~git20190206.bf6db5b4+dfsg1-3", Arch: "all", Source: "syslinux", Files: []debtest.File{
			file("./usr/lib/ISOLINUX/isolinux.bin", isolinuxBin),
			file("./usr/lib/ISOLINUX/isohdpfx.bin", bytes.Repeat([]byte{0x90}, 432)),
		}},
		debtest.Pkg{Name: "syslinux-common", Version: "3:6.04~git20190206.bf6db5b4+dfsg1-3", Arch: "all", Source: "syslinux", Files: []debtest.File{
			file("./usr/lib/syslinux/modules/bios/ldlinux.c32", testBytes("ldlinux.c32", 1000)),
		}},
		debtest.Pkg{Name: "shim-signed", Version: "1.44+15.8-1", Files: []debtest.File{
			file("./usr/lib/shim/shimx64.efi.signed", testBytes("shimx64.efi", 3000)),
		}},
		debtest.Pkg{Name: "grub-efi-amd64-signed", Version: "1+2.12+9", Files: []debtest.File{
			file("./usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed", testBytes("gcdx64.efi", 5000)),
			file("./usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed", testBytes("grubx64.efi", 5000)),
		}},
		debtest.Pkg{Name: "hello", Version: "2.10-5", Depends: "libhello (>= 1.0)", Files: []debtest.File{
			dir("./"), dir("./usr/"), dir("./usr/bin/"),
			{Name: "./usr/bin/hello", Body: "#!/bin/sh\necho hello\n", Mode: 0o755},
			file("./usr/share/doc/hello/copyright", []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: e2e\nLicense: GPL-3+\n")),
		}},
		libhello("1.2-1"),
	)
	week := 7 * 24 * time.Hour // as Debian's -updates and -security InRelease carry a Valid-Until
	return []debtest.Suite{
		{Name: "trixie", Date: e2eRelease, Packages: trixie},
		{Name: "trixie-updates", Date: e2eUpdates, ValidUntil: e2eUpdates.Add(week), Packages: []debtest.Pkg{libhello("1.2-1+deb13u1")}},
		{Name: "trixie-security", Date: e2eSecurity, ValidUntil: e2eSecurity.Add(week), Packages: kernel(e2eKernelSecurity, vmlinuz)},
	}, vmlinuz, isolinuxBin
}

// mediumModuleFiles are stand-ins for the modules an early initramfs loads to find the medium
// (mediumModules), under mods; vfat depends on fat, as in Debian's kernel.
func mediumModuleFiles(mods string, ko func(kv ...string) string) []debtest.File {
	files := []debtest.File{{Name: "./" + mods + "kernel/fs/fat/fat.ko.xz", Body: ko("name=fat", "depends=")}}
	for _, m := range mediumModules {
		dep := "depends="
		if m == "vfat" {
			dep = "depends=fat"
		}
		files = append(files, debtest.File{Name: "./" + mods + "kernel/medium/" + m + ".ko.xz", Body: ko("name="+m, dep)})
	}
	return files
}

// e2eWinners are the suites the lock must take each package from: the highest version wins.
var e2eWinners = map[string]string{
	"linux-image-amd64":        "trixie-security",
	"linux-image-" + e2eKernel: "trixie-security",
	"isolinux":                 "trixie",
	"syslinux-common":          "trixie",
	"shim-signed":              "trixie",
	"grub-efi-amd64-signed":    "trixie",
	"hello":                    "trixie",
	"libhello":                 "trixie-updates",
}

// suitePkg is the package called name in suite s.
func suitePkg(t *testing.T, suites []debtest.Suite, s, name string) debtest.Pkg {
	t.Helper()
	for _, su := range suites {
		for _, p := range su.Packages {
			if su.Name == s && p.Name == name {
				return p
			}
		}
	}
	t.Fatalf("suite %s has no package %s", s, name)
	return debtest.Pkg{}
}

// e2eCheckout is a genai-build checkout holding one small edition: the repository's kernel, boot
// loader and init recipes, a debian-packages recipe of its own, a kconfig fragment and an overlay,
// and the test archive's key as the archive keyring. The init is built from the repository's own
// sources (go.mod, go.sum, initramfs/ and internal/ab are copied), so its module dependencies come from the
// Go module cache.
func e2eCheckout(t *testing.T, keyring []byte) string {
	t.Helper()
	root := t.TempDir()
	repo := filepath.Join("..", "..")
	// the init's sources: initramfs/ and the A/B boot state it shares with genai-update
	for _, dir := range []string{"initramfs", "internal/ab"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join(repo, dir))); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		KeyringFile:                 keyring,
		"recipes/e2e-packages.yaml": []byte("name: e2e-packages\nkind: debian-packages\ndescription: a package and the library it depends on\npackages: [hello]\n"),
		"kconfig/e2e.config":        []byte("CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_ZSTD=y|m\n# CONFIG_E2E_OFF is not set\n"),
		"overlays/e2e/etc/motd":     []byte("end to end\n"),
		// The same system with its root on the medium, also written as a kernel and initramfs, with
		// a u-root busybox of one command: the early initramfs's rescue shell.
		"editions/e2e-live.yaml": []byte("name: e2e-live\nextends: e2e\nroot:\n  placement: image\n  tmpfs: 25%\nrecipes: [e2e-rescue]\noutputs: [kernel-initrd]\n" +
			"session:\n  welcome: true\n  shortcuts:\n    - {keys: Super+Return, does: a terminal}\n"),
		"recipes/e2e-rescue.yaml": []byte("name: e2e-rescue\nkind: u-root\ndescription: the rescue shell alone\ninstall: usr/bin\ncommands: [core/gosh]\n"),
		"editions/e2e.yaml": []byte(`name: e2e
description: the end-to-end test's edition
version: 0.0.1
arch: amd64
kernel:
  recipe: kernel
  config: [e2e]
  modules: [e2e-disk]
recipes: [isolinux, uefi-loaders, consciousness-init, e2e-packages]
overlays: [e2e]
boot:
  hostname: e2e
  timeout: 1
  serial: ttyS0,115200
  cmdline: [quiet]
initramfs:
  compression: zstd
outputs: [iso]
`),
	}
	for _, f := range []string{"go.mod", "go.sum", "recipes/kernel.yaml", "recipes/isolinux.yaml", "recipes/uefi-loaders.yaml", "recipes/consciousness-init.yaml"} {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// e2e is the end-to-end tests' world: the test archive served here, a checkout, an empty cache.
type e2e struct {
	suites               []debtest.Suite
	vmlinuz, isolinuxBin []byte
	archive              *debtest.Archive
	root                 string
	cache                *cache.Cache
	mirror, security     debian.Mirror
}

// newE2E publishes the test archive and makes a checkout and a cache. The go command may not
// download: the init's modules come from the module cache.
func newE2E(t *testing.T) *e2e {
	t.Setenv("GOPROXY", "off")
	env := &e2e{cache: &cache.Cache{Dir: t.TempDir()}}
	env.suites, env.vmlinuz, env.isolinuxBin = e2eSuites(t)
	env.archive = debtest.NewArchive(t, e2eSecurity)
	env.archive.Publish(t, env.suites...)
	env.root = e2eCheckout(t, env.archive.Keyring(t))
	env.mirror = debian.Mirror{URL: env.archive.MainURL(), From: "test"}
	env.security = debian.Mirror{URL: env.archive.SecurityURL(), From: "test"}
	return env
}

// build locks the checkout (once) and builds an edition into out.
func (env *e2e) build(t *testing.T, edition, out string) *Result {
	t.Helper()
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(env.root, LockFile)); err != nil {
		if _, err := Lock(ctx, LockOptions{Root: env.root, Cache: env.cache, Mirror: env.mirror, Security: env.security, Now: e2eSecurity.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Run(ctx, Options{Root: env.root, Edition: edition, OutDir: out, Cache: env.cache, Mirror: env.mirror, Security: env.security,
		SourceDate: e2eRelease.Add(24 * time.Hour)})
	if err != nil && strings.Contains(err.Error(), "GOPROXY=off") {
		t.Fatalf("%v\nThe init's modules are not in the Go module cache, and this test downloads nothing: run `go mod download` once.", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestEndToEnd locks a small edition against a signed archive of three suites served here (the
// security suite from its own root), builds it with Run to a finished ISO, and reads the ISO back as
// a user would check it. Nothing leaves the machine: the mirrors are the test's server, the cache a
// temporary folder, and the go command may not download.
func TestEndToEnd(t *testing.T) {
	env := newE2E(t)
	suites, vmlinuz, isolinuxBin, a := env.suites, env.vmlinuz, env.isolinuxBin, env.archive
	ctx := context.Background()
	// The packages the build must install, each from the suite the lock must choose.
	var pkgs []debtest.Pkg
	for name, suite := range e2eWinners {
		pkgs = append(pkgs, suitePkg(t, suites, suite, name))
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })

	// Lock: each suite's InRelease verified with the checkout's keyring, every recipe's packages
	// pinned at their highest version across the suites.
	lr, err := Lock(ctx, LockOptions{Root: env.root, Cache: env.cache, Mirror: env.mirror, Security: env.security, Now: e2eSecurity.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	lock := lr.Lock
	if len(lr.Changes) != len(pkgs) || !lr.Written {
		t.Errorf("lock changes %+v (written %v), want one for each of the %d packages", lr.Changes, lr.Written, len(pkgs))
	}
	for _, ch := range lr.Changes {
		if ch.Suite != e2eWinners[ch.Name] || ch.Old != "" {
			t.Errorf("lock change %q, want the package new from %s", ch, e2eWinners[ch.Name])
		}
	}
	if k, ok := lock.Followed("linux-image-amd64"); !ok || k.Name != "linux-image-"+e2eKernel || k.Version != e2eKernelSecurity || k.Suite != "trixie-security" {
		t.Errorf("kernel followed to %+v, want linux-image-%s %s from trixie-security", k, e2eKernel, e2eKernelSecurity)
	}
	if got := lock.Sets["e2e-packages"]; strings.Join(got, " ") != "hello libhello" {
		t.Errorf("e2e-packages resolved to %v", got)
	}
	var locked []string
	for _, s := range lock.Suites {
		locked = append(locked, s.Name+" "+string(s.Archive)+" "+s.Release.Date)
	}
	if got, want := strings.Join(locked, ", "), fmt.Sprintf("trixie %s %s, trixie-updates %s %s, trixie-security %s %s",
		debian.ArchiveOf("trixie"), e2eRelease.Format(time.RFC3339), debian.ArchiveOf("trixie-updates"), e2eUpdates.Format(time.RFC3339),
		debian.ArchiveOf("trixie-security"), e2eSecurity.Format(time.RFC3339)); got != want {
		t.Errorf("locked suites %s, want %s", got, want)
	}

	// Build.
	out := t.TempDir()
	sourceDate := e2eRelease.Add(24 * time.Hour)
	res := env.build(t, "e2e", out)
	t.Logf("built %s (%d bytes) in %v", filepath.Base(res.Image), res.Size, res.Steps)
	if want := filepath.Join(out, "genai-os-e2e-0.0.1-amd64.iso"); res.Image != want {
		t.Errorf("image %s, want %s", res.Image, want)
	}
	if lost := a.Lost(); lost != nil {
		t.Errorf("asked the archive for what it lacks: %v", lost)
	}
	// Each package came once from its suite's archive root; the kernel's security fix from the
	// security archive, and no package was downloaded that the lock did not choose.
	for _, p := range pkgs {
		if p.Name == "linux-image-amd64" {
			continue // the meta package is followed, not unpacked
		}
		if path := debtest.Root(e2eWinners[p.Name]) + debtest.PoolPath(p); a.Hits(path) != 1 {
			t.Errorf("%s downloaded %d times, want once", path, a.Hits(path))
		}
	}
	for _, s := range suites {
		for _, p := range s.Packages {
			if e2eWinners[p.Name] == s.Name {
				continue
			}
			if path := debtest.Root(s.Name) + debtest.PoolPath(p); a.Hits(path) != 0 {
				t.Errorf("%s, which the lock did not choose, was downloaded", path)
			}
		}
	}
	if kernel := suitePkg(t, suites, "trixie-security", "linux-image-"+e2eKernel); a.Hits("debian-security/"+debtest.PoolPath(kernel)) != 1 {
		t.Errorf("the kernel was not fetched from the security archive: %v", a.Paths())
	}
	// The image, its three companions, the hidden record of its inputs, and the hidden lock file
	// that serialises builds writing them (nothing half-written, no temporary name left).
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		if e.Name() == ".genai-os-e2e-0.0.1-amd64.iso.lock" {
			continue
		}
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != ".genai-os-e2e-0.0.1-amd64.iso.inputs.json genai-os-e2e-0.0.1-amd64.iso genai-os-e2e-0.0.1-amd64.iso.manifest.json genai-os-e2e-0.0.1-amd64.iso.sha256 genai-os-e2e-0.0.1-amd64.iso.spdx.json" {
		t.Errorf("output folder: %s", got)
	}

	// A rebuild with nothing changed leaves the image as it is; an image changed in the folder
	// is written again, as it was.
	before, err := os.Stat(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	again := env.build(t, "e2e", out)
	after, _ := os.Stat(res.Image)
	if again.SHA256 != res.SHA256 || !after.ModTime().Equal(before.ModTime()) || again.ManifestData == nil || len(again.ManifestData.Files) != len(res.ManifestData.Files) {
		t.Errorf("a rebuild with nothing changed wrote the image again, or lost its manifest")
	}
	f, err := os.OpenFile(res.Image, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	if healed := env.build(t, "e2e", out); healed.SHA256 != res.SHA256 {
		t.Errorf("a changed image was not written again: %s, want %s", healed.SHA256, res.SHA256)
	}
	if sum, _ := fileSHA256(res.Image); sum != res.SHA256 {
		t.Errorf("the image on disk is %s after the rebuild, want %s", sum, res.SHA256)
	}

	// The image on disk matches its checksum file.
	sum, err := fileSHA256(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(res.Checksum); string(b) != sum+"  genai-os-e2e-0.0.1-amd64.iso\n" || sum != res.SHA256 {
		t.Errorf("checksum file %q, image sha256 %s", b, sum)
	}

	// Read the ISO back: boot catalog, hybrid MBR, files.
	rep, err := iso.Inspect(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.BootEntries) != 2 || rep.BootEntries[0].Platform != "BIOS" || rep.BootEntries[0].File != "isolinux/isolinux.bin" ||
		rep.BootEntries[1].Platform != "UEFI" || rep.BootEntries[1].File != "boot/efi.img" {
		t.Errorf("boot entries: %+v", rep.BootEntries)
	}
	// The isohybrid MBR (syslinux isohybrid.c): partition 1 over the whole image, partition 2 (the
	// ESP, type 0xEF) over efi.img inside it, for firmware that boots the image as a disk.
	var espSize int64
	for _, f := range rep.Files {
		if f.Path == "boot/efi.img" {
			espSize = f.Size
		}
	}
	if len(rep.Partitions) != 2 || !rep.Partitions[0].Bootable || rep.Partitions[0].Start != 0 ||
		int64(rep.Partitions[0].Sectors)*512 != rep.Size || rep.Partitions[1].Type != 0xEF ||
		len(rep.BootEntries) != 2 || rep.Partitions[1].Start != rep.BootEntries[1].LoadRBA*4 ||
		int64(rep.Partitions[1].Sectors)*512 < espSize || espSize == 0 {
		t.Errorf("isohybrid partitions %+v, ESP %d bytes", rep.Partitions, espSize)
	}
	read := func(p string) []byte {
		t.Helper()
		b, err := iso.ReadFile(res.Image, p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read("boot/vmlinuz"), vmlinuz) {
		t.Errorf("/boot/vmlinuz is not the vmlinuz of the kernel from trixie-security (%s)", e2eKernelSecurity)
	}
	// The writer fills bytes 8-63 of isolinux.bin with the boot info table (El Torito, as
	// mkisofs -boot-info-table does); the rest is the package's.
	if got := read("isolinux/isolinux.bin"); len(got) != len(isolinuxBin) || !bytes.Equal(got[:8], isolinuxBin[:8]) || !bytes.Equal(got[64:], isolinuxBin[64:]) {
		t.Error("/isolinux/isolinux.bin is not the isolinux package's")
	}
	if !bytes.HasPrefix(read("isolinux/ldlinux.c32"), []byte("ldlinux.c32\x00")) {
		t.Error("/isolinux/ldlinux.c32 is not syslinux-common's")
	}
	esp := read("boot/efi.img")
	for _, loader := range []string{"shimx64.efi", "gcdx64.efi"} {
		if !bytes.Contains(esp, []byte(loader+"\x00")) {
			t.Errorf("the ESP image lacks %s", loader)
		}
	}
	if !strings.HasPrefix(string(read(".disk/info")), "GenAI OS e2e 0.0.1 amd64") {
		t.Error("/.disk/info, which GRUB searches for, is wrong")
	}
	for _, menu := range []string{"isolinux/isolinux.cfg", "boot/grub/grub.cfg"} {
		cfg := string(read(menu))
		for _, want := range []string{"GenAI OS e2e 0.0.1", "/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0,115200", "quiet"} {
			if !strings.Contains(cfg, want) {
				t.Errorf("%s lacks %q:\n%s", menu, want, cfg)
			}
		}
	}

	// The initramfs: one zstd-compressed newc archive a segment, with the init, the modules in
	// load order, the package set and the overlay.
	initrd := read("boot/initrd.img")
	if int64(len(initrd)) != res.InitrdSize {
		t.Errorf("initrd is %d bytes, the build said %d", len(initrd), res.InitrdSize)
	}
	segs, files := readInitrd(t, initrd)
	if segs != 5 {
		t.Errorf("the initramfs has %d segments, want 5 (root-manifest, kernel-modules, consciousness-init, e2e-packages, system)", segs)
	}
	// The root manifest, first, names the four others with a marker each and the memory minimum.
	rm, err := rootcheck.Parse(strings.NewReader(files[rootcheck.Path]))
	if err != nil {
		t.Fatalf("%s: %v", rootcheck.Path, err)
	}
	var segNames []string
	for _, sg := range rm.Segments {
		segNames = append(segNames, sg.Name)
		if got, ok := files[sg.Path]; !ok || (sg.Kind == "file" && int64(len(got)) != sg.Size) {
			t.Errorf("segment %s: marker /%s (%s, %d bytes) not in the initramfs as said", sg.Name, sg.Path, sg.Kind, sg.Size)
		}
	}
	if got := strings.Join(segNames, " "); got != "kernel-modules consciousness-init e2e-packages system" || rm.Edition != "e2e" {
		t.Errorf("root manifest: edition %q, segments %q", rm.Edition, got)
	}
	if res.Memory == nil || rm.MemoryMinMB != res.Memory.MinMB || rm.MemoryMinMB < 24+64 {
		t.Errorf("root manifest memory_min_mb %d, build result %+v", rm.MemoryMinMB, res.Memory)
	}
	modDir := "usr/lib/modules/" + e2eKernel + "/kernel/drivers/e2e/"
	for p, want := range map[string]string{
		"init":                                   "usr/sbin/consciousness-init",
		"etc/consciousness/modules":              "/" + modDir + "e2e-core.ko\n/" + modDir + "e2e-disk.ko\n",
		"etc/consciousness/modules.dep":          "/" + modDir + "e2e-core.ko:\n/" + modDir + "e2e-disk.ko: /" + modDir + "e2e-core.ko\n",
		"etc/consciousness/modules.alias":        "alias pci:v00001AF4d00001001sv*sd*bc*sc*i* e2e_disk\n",
		"usr/bin/hello":                          "#!/bin/sh\necho hello\n",
		"etc/motd":                               "end to end\n",
		"usr/share/doc/hello/copyright":          "", // present (the licence's source); content not checked
		"usr/lib/x86_64-linux-gnu/libhello.so.1": string(testBytes("libhello", 100)),
	} {
		got, ok := files[p]
		if !ok {
			t.Errorf("the initramfs lacks /%s", p)
		} else if want != "" && got != want {
			t.Errorf("/%s in the initramfs is %q, want %q", p, got, want)
		}
	}
	if init := files["usr/sbin/consciousness-init"]; !strings.HasPrefix(init, "\x7fELF") {
		t.Error("/usr/sbin/consciousness-init is not an ELF program")
	}
	if _, ok := files[modDir+"e2e-unused.ko"]; ok {
		t.Error("a module the edition does not load is in the initramfs")
	}

	// The build record inside the image names every input with its digest.
	var m Manifest
	if err := json.Unmarshal(read("genai/build.json"), &m); err != nil {
		t.Fatal(err)
	}
	if m.Edition != "e2e" || m.Kernel != e2eKernel || m.SourceDateEpoch != sourceDate.Unix() || m.Image != nil {
		t.Errorf("build.json: edition %q kernel %q epoch %d image %+v", m.Edition, m.Kernel, m.SourceDateEpoch, m.Image)
	}
	inputs := map[string]Input{}
	for _, in := range m.Inputs {
		inputs[in.Name] = in
	}
	for _, p := range pkgs {
		if p.Name == "linux-image-amd64" {
			continue
		}
		in, ok := inputs[p.Name]
		if !ok {
			t.Errorf("build.json has no input %s", p.Name)
			continue
		}
		sum := sha256.Sum256(debtest.DebOf(t, p))
		from := "debian:" + e2eWinners[p.Name] + ":" + debtest.PoolPath(p)
		if in.SHA256 != hex.EncodeToString(sum[:]) || in.Version != p.Version || in.From != from {
			t.Errorf("input %+v, want version %s sha256 %x from %s", in, p.Version, sum, from)
		}
	}
	if in := inputs["linux-image-"+e2eKernel]; !strings.HasPrefix(in.From, "debian:trixie-security:") || in.Version != e2eKernelSecurity {
		t.Errorf("kernel input %+v, want %s from trixie-security", in, e2eKernelSecurity)
	}
	if in := inputs["consciousness-init"]; in.From != "go:./initramfs/cmd/consciousness-init" || len(in.SHA256) != 64 {
		t.Errorf("init input %+v", in)
	}
	var installed []string
	for _, p := range m.Packages {
		installed = append(installed, p.Name+" "+p.Version+" "+p.License)
	}
	if got := strings.Join(installed, ", "); got != "hello 2.10-5 GPL-3+, libhello 1.2-1+deb13u1 NOASSERTION" {
		t.Errorf("installed packages: %s", got)
	}
	where := map[string]string{}
	for _, f := range m.Files {
		where[f.Path] = f.Where + " " + f.Origin
	}
	for p, want := range map[string]string{
		"/usr/sbin/consciousness-init": "initramfs:consciousness-init recipe:consciousness-init",
		"/" + modDir + "e2e-disk.ko":   "initramfs:kernel-modules kernel:linux-image-" + e2eKernel,
		"/usr/bin/hello":               "initramfs:e2e-packages deb:hello",
		"/etc/motd":                    "initramfs:system overlay:e2e",
		"/etc/consciousness/boot.conf": "initramfs:system generated:edition",
	} {
		if where[p] != want {
			t.Errorf("build.json: %s is %q, want %q", p, where[p], want)
		}
	}

	// The manifest beside the image adds the image and its ISO files; the SBOM is valid SPDX and
	// lists each input with its digest.
	var side Manifest
	if b, err := os.ReadFile(res.Manifest); err != nil || json.Unmarshal(b, &side) != nil {
		t.Fatalf("manifest %s: %v", res.Manifest, err)
	}
	if side.Image == nil || side.Image.SHA256 != sum || side.Image.Size != res.Size {
		t.Errorf("manifest image record %+v", side.Image)
	}
	sb, err := os.ReadFile(res.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	doc := validSPDX(t, sb)
	checksums := map[string]string{}
	for _, p := range doc.Packages {
		for _, c := range p.PackageChecksums {
			checksums[p.PackageName] = string(c.Algorithm) + ":" + c.Value
		}
	}
	var missing []string
	for name, in := range inputs {
		if checksums[name] != "SHA256:"+in.SHA256 {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || checksums[filepath.Base(res.Image)] != "SHA256:"+sum {
		t.Errorf("the SBOM lacks the digests of %v (or of the image): %v", missing, checksums)
	}
}

// readInitrd splits an initramfs as the kernel does (init/initramfs.c: compressed members one after
// another, zero bytes between them skipped) and reads each member's newc archive. It returns the
// number of members and every entry's content (a symlink's is its target) by path.
func readInitrd(t *testing.T, data []byte) (int, map[string]string) {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	files := map[string]string{}
	n := 0
	for off := 0; ; {
		for off < len(data) && data[off] == 0 {
			off++
		}
		if off == len(data) {
			return n, files
		}
		end := zstdFrameEnd(t, data[off:]) + off
		raw, err := dec.DecodeAll(data[off:end], nil)
		if err != nil {
			t.Fatalf("initramfs member at %d: %v", off, err)
		}
		recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("initramfs member at %d: %v", off, err)
		}
		for _, r := range recs {
			b, err := io.ReadAll(io.NewSectionReader(r, 0, int64(r.FileSize)))
			if err != nil {
				t.Fatal(err)
			}
			files[r.Name] = string(b)
		}
		n++
		off = end
	}
}

// zstdFrameEnd is the length of the zstd frame at the start of b (RFC 8878, 3.1.1: the frame
// header, blocks each with a 3-byte header until the one marked last, then the optional
// 4-byte checksum).
func zstdFrameEnd(t *testing.T, b []byte) int {
	t.Helper()
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		t.Fatalf("zstd frame: %v", err)
	}
	p := h.HeaderSize
	for {
		if p+3 > len(b) {
			t.Fatal("zstd frame: truncated")
		}
		bh := uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16
		last, typ, size := bh&1 == 1, (bh>>1)&3, int(bh>>3)
		p += 3
		if typ == 1 { // RLE_Block: one byte, repeated size times
			size = 1
		}
		p += size
		if last {
			break
		}
	}
	if h.HasCheckSum {
		p += 4
	}
	return p
}
