package iso_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/esp"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/iso"
)

var sourceDate = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeIsolinux is 4 KiB with the isohybrid signature 0x7078c0fb (LE) at 0x40.
func fakeIsolinux() []byte {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(i * 13)
	}
	copy(b[0x40:], []byte{0xFB, 0xC0, 0x78, 0x70})
	return b
}

// fakeMBR stands in for isohdpfx.bin (432 bytes).
func fakeMBR() []byte { return bytes.Repeat([]byte{0x90}, 432) }

func testSpec(t *testing.T) (iso.Spec, map[string][]byte) {
	t.Helper()
	espTree := fstree.New()
	for p, d := range map[string][]byte{"EFI/BOOT/BOOTX64.EFI": []byte("shim"), "EFI/BOOT/grubx64.efi": []byte("grub")} {
		if err := espTree.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	espImg, err := esp.Build(espTree, sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"isolinux/isolinux.bin":      fakeIsolinux(),
		"isolinux/isolinux.cfg":      []byte("default linux\n"),
		"boot/efi.img":               espImg,
		"boot/grub/grub.cfg":         []byte("linux /live/vmlinuz\n"),
		"live/vmlinuz":               bytes.Repeat([]byte("kernel"), 5000),
		"live/initrd.img":            bytes.Repeat([]byte{1, 2, 3}, 7000),
		".disk/info":                 []byte("genai\n"),
		"a/long-file-name.with.dots": []byte("x"),
		"empty":                      {},
	}
	tr := fstree.New()
	for p, d := range files {
		if err := tr.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Add(fstree.Entry{Path: "live/bin/tool", Kind: fstree.File, Mode: 0o755 | os.ModeSetuid, UID: 0, GID: 50, Data: []byte("#!")}); err != nil {
		t.Fatal(err)
	}
	files["live/bin/tool"] = []byte("#!")
	if err := tr.Add(fstree.Entry{Path: "vmlinuz", Kind: fstree.Symlink, Target: "live/vmlinuz", Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	return iso.Spec{
		VolumeID:   "GENAI_TEST",
		SourceDate: sourceDate,
		Files:      tr,
		BIOS:       &iso.BIOSBoot{Image: "isolinux/isolinux.bin", Catalog: "isolinux/boot.cat"},
		UEFI:       &iso.UEFIBoot{Image: "boot/efi.img"},
		Hybrid:     fakeMBR(),
	}, files
}

func TestWriteInspect(t *testing.T) {
	spec, files := testSpec(t)
	out := filepath.Join(t.TempDir(), "test.iso")
	if err := iso.Write(context.Background(), out, spec); err != nil {
		t.Fatal(err)
	}
	r, err := iso.Inspect(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.VolumeID != "GENAI_TEST" {
		t.Errorf("volume ID %q", r.VolumeID)
	}
	if r.Size%(1<<20) != 0 {
		t.Errorf("size %d is not padded to a MiB", r.Size)
	}

	byPath := map[string]iso.FileInfo{}
	for _, f := range r.Files {
		byPath[f.Path] = f
	}
	for p, want := range files {
		fi, ok := byPath[p]
		if !ok {
			t.Errorf("%s missing from Inspect", p)
			continue
		}
		if fi.Size != int64(len(want)) {
			t.Errorf("%s: size %d, want %d", p, fi.Size, len(want))
		}
		got, err := iso.ReadFile(out, p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if p != "isolinux/isolinux.bin" && !bytes.Equal(got, want) {
			t.Errorf("%s: content differs", p)
		}
	}
	if fi := byPath["vmlinuz"]; fi.Mode.Type() != os.ModeSymlink || fi.Target != "live/vmlinuz" {
		t.Errorf("symlink: %+v", fi)
	}
	if fi := byPath["live/bin/tool"]; fi.Mode != 0o755|os.ModeSetuid {
		t.Errorf("setuid tool has mode %v", fi.Mode)
	}
	if fi := byPath["isolinux/boot.cat"]; !fi.Mode.IsRegular() || fi.Size == 0 {
		t.Errorf("boot catalog: %+v", fi)
	}

	// The BIOS image carries a boot-info-table at 8..64 (PVD at 16, its own LBA, its length);
	// everything else is the file as given.
	bin, _ := iso.ReadFile(out, "isolinux/isolinux.bin")
	orig := files["isolinux/isolinux.bin"]
	if !bytes.Equal(bin[:8], orig[:8]) || !bytes.Equal(bin[64:], orig[64:]) {
		t.Error("isolinux.bin changed outside the boot-info-table")
	}
	if le32(bin[8:]) != 16 || le32(bin[12:]) != byPath["isolinux/isolinux.bin"].LBA || le32(bin[16:]) != uint32(len(orig)) {
		t.Errorf("boot-info-table: % x", bin[8:24])
	}

	if len(r.BootEntries) != 2 {
		t.Fatalf("boot entries: %+v", r.BootEntries)
	}
	bios, uefi := r.BootEntries[0], r.BootEntries[1]
	if bios.Platform != "BIOS" || !bios.Bootable || bios.Emulation != "none" || bios.Sectors != 4 || bios.File != "isolinux/isolinux.bin" {
		t.Errorf("BIOS entry: %+v", bios)
	}
	if uefi.Platform != "UEFI" || !uefi.Bootable || uefi.Emulation != "none" || uefi.File != "boot/efi.img" {
		t.Errorf("UEFI entry: %+v", uefi)
	}

	if len(r.Partitions) != 2 {
		t.Fatalf("partitions: %+v", r.Partitions)
	}
	p1, p2 := r.Partitions[0], r.Partitions[1]
	if !p1.Bootable || p1.Type != 0 || p1.Start != 0 || int64(p1.Sectors)*512 != r.Size {
		t.Errorf("partition 1: %+v (image %d bytes)", p1, r.Size)
	}
	espLen := int64(len(files["boot/efi.img"]))
	if p2.Bootable || p2.Type != 0xEF || p2.Start != byPath["boot/efi.img"].LBA*4 || int64(p2.Sectors)*512 != espLen {
		t.Errorf("partition 2: %+v, ESP file at block %d, %d bytes", p2, byPath["boot/efi.img"].LBA, espLen)
	}
	// The ESP partition's bytes are exactly the ESP file.
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw[int64(p2.Start)*512:int64(p2.Start)*512+espLen], files["boot/efi.img"]) {
		t.Error("ESP partition does not hold the ESP image")
	}
	if le32(raw[432:]) != byPath["isolinux/isolinux.bin"].LBA*4 || raw[510] != 0x55 || raw[511] != 0xAA {
		t.Error("MBR: loader LBA or signature wrong")
	}

	if xorriso, err := exec.LookPath("xorriso"); err == nil {
		report, err := exec.Command(xorriso, "-indev", out, "-report_el_torito", "plain").CombinedOutput()
		if err != nil || !strings.Contains(string(report), "isohybrid") {
			t.Errorf("xorriso: %v\n%s", err, report)
		}
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func TestDeterministic(t *testing.T) {
	spec, _ := testSpec(t)
	dir := t.TempDir()
	sum := func(name string) [32]byte {
		p := filepath.Join(dir, name)
		if err := iso.Write(context.Background(), p, spec); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		io.Copy(h, f)
		return [32]byte(h.Sum(nil))
	}
	a := sum("a.iso")
	time.Sleep(1100 * time.Millisecond)
	t.Setenv("SOURCE_DATE_EPOCH", "1")
	b := sum("b.iso")
	if a != b {
		t.Fatal("two builds of the same Spec differ")
	}
	spec.SourceDate = spec.SourceDate.Add(time.Hour)
	if sum("c.iso") == a {
		t.Error("SourceDate does not reach the image")
	}
}

func TestFailedBuildLeavesNothing(t *testing.T) {
	for name, mutate := range map[string]func(*iso.Spec){
		"missing BIOS image": func(s *iso.Spec) { s.BIOS.Image = "isolinux/nope.bin" },
		"no hybrid signature": func(s *iso.Spec) {
			s.Files.Replace(fstree.Entry{Path: "isolinux/isolinux.bin", Kind: fstree.File, Data: make([]byte, 4096)})
		},
		"bad volume ID":       func(s *iso.Spec) { s.VolumeID = "lower case" },
		"catalog over a file": func(s *iso.Spec) { s.BIOS.Catalog = "isolinux/isolinux.cfg" },
		"cancelled":           nil,
		"hybrid without BIOS": func(s *iso.Spec) { s.BIOS = nil },
		"source file gone": func(s *iso.Spec) {
			src := filepath.Join(t.TempDir(), "src")
			if err := os.WriteFile(src, []byte("soon gone"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := s.Files.Add(fstree.Entry{Path: "gone", Kind: fstree.File, Source: src, Size: 9}); err != nil {
				t.Fatal(err)
			}
			os.Remove(src)
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec, _ := testSpec(t)
			ctx := context.Background()
			if mutate == nil {
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			} else {
				mutate(&spec)
			}
			dir := t.TempDir()
			if err := iso.Write(ctx, filepath.Join(dir, "out.iso"), spec); err == nil {
				t.Fatal("no error")
			}
			left, _ := os.ReadDir(dir)
			for _, e := range left {
				t.Errorf("left behind: %s", e.Name())
			}
		})
	}
}

func TestUEFIOnly(t *testing.T) {
	spec, _ := testSpec(t)
	spec.BIOS, spec.Hybrid = nil, nil
	out := filepath.Join(t.TempDir(), "uefi.iso")
	if err := iso.Write(context.Background(), out, spec); err != nil {
		t.Fatal(err)
	}
	r, err := iso.Inspect(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.BootEntries) != 1 || r.BootEntries[0].Platform != "UEFI" || r.BootEntries[0].File != "boot/efi.img" {
		t.Errorf("boot entries: %+v", r.BootEntries)
	}
	if len(r.Partitions) != 0 || r.Size%2048 != 0 {
		t.Errorf("partitions %+v, size %d", r.Partitions, r.Size)
	}
}
