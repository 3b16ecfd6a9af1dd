package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/rootcheck"
	"github.com/genai-os/genai-build/internal/iso"
)

// TestRootOnMedium builds the end-to-end edition with its root on the medium (placement image)
// and as two outputs (iso, kernel-initrd), and reads what it wrote as the init and a user would:
// the ISO carries the layers, /live/build-id and /live/layers, which agree with each other, with
// the layers' bytes and with live.conf in the early initramfs; unsquashfs, a reader nobody here
// wrote, lists each layer's files; the kernel and initramfs lie beside the ISO and every image is
// in the Result and the manifest. A rebuild reuses every layer, and a changed overlay file
// rewrites only the system layer.
func TestRootOnMedium(t *testing.T) {
	if _, err := exec.LookPath("unsquashfs"); err != nil {
		t.Fatal("unsquashfs (Debian package squashfs-tools) is needed to read the layers back")
	}
	env := newE2E(t)
	out := t.TempDir()
	res := env.build(t, "e2e-live", out)
	base := filepath.Join(out, "genai-os-e2e-live-0.0.1-amd64")

	// Every image written, in the Result and the manifest, each beside its checksum.
	var got []string
	for _, im := range res.Images {
		got = append(got, fmt.Sprintf("%s:%s:%s", im.Output, im.Format, filepath.Base(im.Path)))
		sum, err := fileSHA256(im.Path)
		if err != nil || sum != im.SHA256 {
			t.Errorf("%s: sha256 %s, the build said %s (%v)", im.Path, sum, im.SHA256, err)
		}
		if b, _ := os.ReadFile(im.Checksum); string(b) != im.SHA256+"  "+filepath.Base(im.Path)+"\n" {
			t.Errorf("%s: %q", im.Checksum, b)
		}
	}
	want := "iso:iso:genai-os-e2e-live-0.0.1-amd64.iso kernel-initrd:vmlinuz:genai-os-e2e-live-0.0.1-amd64.vmlinuz kernel-initrd:initrd:genai-os-e2e-live-0.0.1-amd64.initrd"
	if strings.Join(got, " ") != want || res.Image != base+".iso" {
		t.Errorf("images %v (primary %s), want %s", got, res.Image, want)
	}
	var side Manifest
	if b, err := os.ReadFile(res.Manifest); err != nil || json.Unmarshal(b, &side) != nil {
		t.Fatalf("manifest %s: %v", res.Manifest, err)
	}
	if len(side.Images) != 3 || side.Images[1].Name != filepath.Base(base)+".vmlinuz" || side.Images[2].SHA256 != res.Images[2].SHA256 ||
		side.Image == nil || side.Image.Name != filepath.Base(res.Image) || side.Placement != "image" || side.BuildID != res.BuildID {
		t.Errorf("manifest images %+v, primary %+v, placement %q, build id %q", side.Images, side.Image, side.Placement, side.BuildID)
	}

	read := func(p string) []byte {
		t.Helper()
		b, err := iso.ReadFile(res.Image, p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The kernel and the early initramfs beside the ISO are the ISO's.
	for p, file := range map[string]string{"boot/vmlinuz": base + ".vmlinuz", "boot/initrd.img": base + ".initrd"} {
		if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, read(p)) {
			t.Errorf("%s is not the ISO's /%s (%v)", file, p, err)
		}
	}
	if !bytes.Equal(read("boot/vmlinuz"), env.vmlinuz) {
		t.Error("/boot/vmlinuz is not the kernel's")
	}

	// The medium: the layers lowest first, their list, and the build id over their digests.
	var names, listed []string
	h := sha256.New()
	layerFiles := map[string][]byte{}
	for _, l := range res.Layers {
		b := read("live/" + l.Name + ".squashfs")
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != l.SHA256 || int64(len(b)) != l.Size {
			t.Errorf("/live/%s.squashfs: %d bytes sha256 %x, the build said %d %s", l.Name, len(b), sum, l.Size, l.SHA256)
		}
		layerFiles[l.Name] = b
		names = append(names, l.Name)
		listed = append(listed, fmt.Sprintf("%s %d %x", l.Name, len(b), sum))
		fmt.Fprintf(h, "%x\n", sum)
	}
	id := hex.EncodeToString(h.Sum(nil))
	if strings.Join(names, ",") != "programs,packages,modules,system" || res.BuildID != id || res.Placement != "image" {
		t.Fatalf("layers %v, build id %s (want %s), placement %q", names, res.BuildID, id, res.Placement)
	}
	if got := string(read("live/layers")); got != strings.Join(listed, "\n")+"\n" {
		t.Errorf("/live/layers:\n%s\nwant:\n%s", got, strings.Join(listed, "\n"))
	}
	if got := string(read("live/build-id")); got != id+"\n" {
		t.Errorf("/live/build-id %q, want %s", got, id)
	}

	// The early initramfs: the root manifest, the modules that find the medium, the init, u-root's
	// busybox (init.debug's rescue shell, /bin/gosh) and live.conf naming this build; no package,
	// other program or overlay of the root.
	segs, files := readInitrd(t, read("boot/initrd.img"))
	rm, err := rootcheck.Parse(strings.NewReader(files[rootcheck.Path]))
	if err != nil {
		t.Fatal(err)
	}
	var segNames []string
	for _, sg := range rm.Segments {
		segNames = append(segNames, sg.Name)
	}
	if segs != 5 || strings.Join(segNames, " ") != "medium-modules consciousness-init e2e-rescue live" {
		t.Errorf("early initramfs: %d segments, root manifest names %v", segs, segNames)
	}
	if got, want := files[liveConfPath], "build-id="+id+"\nlayers=programs,packages,modules,system\n"; got != want {
		t.Errorf("/%s = %q, want %q", liveConfPath, got, want)
	}
	modDir := "/usr/lib/modules/" + e2eKernel + "/kernel/"
	var wantMods []string
	for _, m := range mediumModules {
		if m == "vfat" {
			wantMods = append(wantMods, modDir+"fs/fat/fat.ko")
		}
		wantMods = append(wantMods, modDir+"medium/"+m+".ko")
	}
	loads := strings.Fields(files["etc/consciousness/modules"])
	sorted := slices.Sorted(slices.Values(loads))
	slices.Sort(wantMods)
	if !slices.Equal(sorted, wantMods) || slices.Index(loads, modDir+"fs/fat/fat.ko") > slices.Index(loads, modDir+"medium/vfat.ko") {
		t.Errorf("the early initramfs loads, in this order:\n%s\nwant (fat before vfat):\n%s", strings.Join(loads, "\n"), strings.Join(wantMods, "\n"))
	}
	if files["init"] != "usr/sbin/consciousness-init" || !strings.HasPrefix(files["usr/sbin/consciousness-init"], "\x7fELF") {
		t.Error("the early initramfs lacks the init")
	}
	if files["bin"] != "usr/bin" || files["usr/bin/gosh"] != "bb" || !strings.HasPrefix(files["usr/bin/bb"], "\x7fELF") {
		t.Errorf("the early initramfs lacks the rescue shell: /bin -> %q, /usr/bin/gosh -> %q", files["bin"], files["usr/bin/gosh"])
	}
	if _, ok := files["root"]; !ok {
		t.Error("the early initramfs lacks /root, where the rescue shell starts")
	}
	for _, p := range []string{"usr/bin/hello", "etc/motd", strings.TrimPrefix(modDir, "/") + "drivers/e2e/e2e-disk.ko"} {
		if _, ok := files[p]; ok {
			t.Errorf("the early initramfs holds /%s, which belongs in a layer", p)
		}
	}
	for _, menu := range []string{"isolinux/isolinux.cfg", "boot/grub/grub.cfg"} {
		if !strings.Contains(string(read(menu)), "consciousness.live.tmpfs=25%") {
			t.Errorf("%s lacks the edition's tmpfs size", menu)
		}
	}

	// Each layer, as unsquashfs lists it.
	dir := t.TempDir()
	for name, want := range map[string][]string{
		"packages": {"squashfs-root/usr/bin/hello", "squashfs-root/usr/lib/x86_64-linux-gnu/libhello.so.1"},
		"programs": {"squashfs-root/usr/sbin/consciousness-init", "squashfs-root/init -> usr/sbin/consciousness-init", "squashfs-root/usr/bin/gosh -> bb"},
		"modules":  {"squashfs-root" + modDir + "drivers/e2e/e2e-disk.ko", "squashfs-root/etc/consciousness/modules"},
		"system":   {"squashfs-root/etc/motd", "squashfs-root/etc/consciousness/boot.conf", "squashfs-root/bin -> usr/bin"},
	} {
		p := filepath.Join(dir, name+".squashfs")
		if err := os.WriteFile(p, layerFiles[name], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("unsquashfs", "-lln", p).CombinedOutput()
		if err != nil {
			t.Fatalf("unsquashfs -lln %s: %v\n%s", name, err, out)
		}
		for _, w := range want {
			if !bytes.Contains(out, []byte(w)) {
				t.Errorf("layer %s lacks %q:\n%s", name, w, out)
			}
		}
		if name == "packages" && !regexp.MustCompile(`(?m)^-rwxr-xr-x 0/0 +21 .* squashfs-root/usr/bin/hello$`).Match(out) {
			t.Errorf("layer packages: /usr/bin/hello is not an executable of 21 bytes owned by root:\n%s", out)
		}
		if name != "packages" && bytes.Contains(out, []byte("usr/bin/hello")) {
			t.Errorf("layer %s holds a package's file", name)
		}
	}
	// The welcome page (session.welcome): the edition, the kernel, each package with its version
	// and licence, the native tools the image has, the edition's shortcuts.
	page, err := exec.Command("unsquashfs", "-cat", filepath.Join(dir, "system.squashfs"), "usr/share/genai/welcome.html").CombinedOutput()
	if err != nil {
		t.Fatalf("the welcome page: %v\n%s", err, page)
	}
	for _, w := range []string{"Welcome to GenAI OS e2e-live 0.0.1", "<td>hello</td><td>2.10-5</td><td>GPL-3&#43;</td>", "<td>libhello</td>",
		"<code>consciousness-manager status</code>", "<kbd>Super&#43;Return</kbd></td><td>a terminal</td>"} {
		if !bytes.Contains(page, []byte(w)) {
			t.Errorf("the welcome page lacks %q:\n%s", w, page)
		}
	}
	if bytes.Contains(page, []byte("genai-update")) {
		t.Error("the welcome page names a tool the image does not have")
	}

	// A rebuild reuses every layer; a changed overlay file rewrites the system layer alone.
	again := env.build(t, "e2e-live", out)
	if again.BuildID != id {
		t.Errorf("rebuild: build id %s, want %s", again.BuildID, id)
	}
	for _, miss := range again.CacheMisses {
		if strings.HasPrefix(miss, "layer:") {
			t.Errorf("rebuild wrote layer %s again", miss)
		}
	}
	if err := os.WriteFile(filepath.Join(env.root, "overlays/e2e/etc/motd"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := env.build(t, "e2e-live", out)
	var layerMisses []string
	for _, miss := range changed.CacheMisses {
		if strings.HasPrefix(miss, "layer:") {
			layerMisses = append(layerMisses, miss)
		}
	}
	if strings.Join(layerMisses, " ") != "layer:system" || changed.BuildID == id {
		t.Errorf("after an overlay change: layers written %v, build id %s (was %s)", layerMisses, changed.BuildID, id)
	}
}
