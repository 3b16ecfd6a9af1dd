package output

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat16"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/klauspost/compress/zstd"

	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/bootmenu"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// diskChain is a chain with small stand-ins for the kernel, the initramfs and the loaders: the
// layout does not depend on what they hold.
func diskChain(t *testing.T) *Chain {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return &Chain{
		Base: "genai-os-embedded-0.1.0-amd64", Title: "GenAI OS embedded 0.1.0\n", VolumeID: "GENAI_EMBEDDED_0_1_0",
		Kernel: write("vmlinuz", "kernel "+strings.Repeat("k", 5000)), Initrd: write("initrd", "initrd"),
		Menu: bootmenu.Menu{SerialUnit: 0, SerialBaud: 115200, Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.img",
			Entries: []bootmenu.Entry{{ID: "genai", Cmdline: []string{"console=ttyS0,115200", "quiet"}}, {ID: "debug", Cmdline: []string{"debug"}}}},
		Loaders:    map[string]string{RoleShim: write("shim", "shim"), RoleDiskGRUB: write("grub", "grub")},
		Medium:     []File{{Path: "live/build-id", Data: []byte("0123\n")}},
		SourceDate: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), BuildID: "0123",
		Disk: DiskParams{SlotSize: 8 << 20},
	}
}

func writeDiskImage(t *testing.T, c *Chain) (img, zst string) {
	t.Helper()
	dir := t.TempDir()
	ws, err := diskImage{}.Write(context.Background(), c, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{c.Base + ".img", c.Base + ".img.zst"}
	if c.Bundle != nil {
		want = append(want, c.Base+".bundle")
	}
	if len(ws) != len(want) {
		t.Fatalf("wrote %d files, want %v", len(ws), want)
	}
	for i, w := range ws {
		if w.Name != want[i] || w.Path != Temp(dir, w.Name) {
			t.Errorf("written %d: %s at %s, want %s at its Temp", i, w.Name, w.Path, want[i])
		}
	}
	return ws[0].Path, ws[1].Path
}

func TestDiskImageLayout(t *testing.T) {
	c := diskChain(t)
	img, _ := writeDiskImage(t, c)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	// 1 MiB of GPT, ESP 8, slots 8 + 8, data 4, 1 MiB for the backup GPT
	if fi.Size() != 30<<20 {
		t.Errorf("image is %d bytes, want %d", fi.Size(), 30<<20)
	}
	table, err := gpt.Read(file.New(f, true), 512, 512)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		typ  gpt.Type
		size int64
	}{{PartESP, gpt.EFISystemPartition, 8 << 20}, {PartSlotA, gpt.LinuxFilesystem, 8 << 20}, {PartSlotB, gpt.LinuxFilesystem, 8 << 20}, {PartData, gpt.LinuxFilesystem, 4 << 20}}
	if len(table.Partitions) != len(want) {
		t.Fatalf("%d partitions, want %d", len(table.Partitions), len(want))
	}
	guids := map[string]bool{}
	for i, p := range table.Partitions {
		if p.Name != want[i].name || p.Type != want[i].typ || p.GetSize() != want[i].size {
			t.Errorf("partition %d: %s %s %d bytes, want %s %s %d", i+1, p.Name, p.Type, p.GetSize(), want[i].name, want[i].typ, want[i].size)
		}
		if p.GetStart()%(1<<20) != 0 {
			t.Errorf("partition %d starts at %d, not on a MiB", i+1, p.GetStart())
		}
		guids[p.GUID] = true
	}
	if guids[table.GUID] || len(guids) != 4 {
		t.Errorf("GUIDs not distinct: disk %s, partitions %v", table.GUID, guids)
	}

	// the ESP: the loaders where shim and firmware look, grub.cfg and the two boot state copies
	esp := table.Partitions[0]
	fsys, err := fat16.Read(file.New(f, true), esp.GetSize(), esp.GetStart(), 512)
	if err != nil {
		t.Fatalf("ESP: %v", err)
	}
	readFAT := func(p string) []byte {
		r, err := fsys.OpenFile("/"+p, os.O_RDONLY)
		if err != nil {
			t.Fatalf("ESP %s: %v", p, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("ESP %s: %v", p, err)
		}
		// go-diskfs' FAT reader returns whole clusters: cut at the size the directory records
		infos, err := fsys.ReadDir(filepath.Dir(p))
		if err != nil {
			t.Fatalf("ESP %s: %v", filepath.Dir(p), err)
		}
		for _, de := range infos {
			if !strings.EqualFold(de.Name(), filepath.Base(p)) {
				continue
			}
			if fi, err := de.Info(); err == nil && fi.Size() <= int64(len(b)) {
				return b[:fi.Size()]
			}
		}
		t.Fatalf("ESP %s: not in its directory", p)
		return nil
	}
	for p, want := range map[string]string{ESPShim: "shim", ESPGRUB: "grub"} {
		if got := string(readFAT(p)); got != want {
			t.Errorf("ESP %s = %q, want %q", p, got, want)
		}
	}
	if got, want := readFAT(ESPGrubCfg), DiskGRUBConfig(0, 115200, DefaultTries); !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Errorf("ESP grub.cfg differs from DiskGRUBConfig: %d bytes, want %d; first difference at %d", len(got), len(want), i)
	}
	for _, p := range []string{ESPEnv, ESPEnv2} {
		env := readFAT(p)
		if len(env) != 1024 || !bytes.HasPrefix(env, []byte("# GRUB Environment Block\ngenai_env=1\ngenai_active=A\ngenai_trial=none\ngenai_left=0\ngenai_spare_ok=0\n#")) {
			t.Errorf("ESP %s: %d bytes, %q", p, len(env), env[:min(len(env), 120)])
		}
	}

	// the same, as the device reads it (internal/ab finds both copies' blocks in the FAT)
	store, err := ab.OpenStoreAt(img, esp.GetStart(), esp.GetSize())
	if err != nil {
		t.Fatalf("ab.OpenStoreAt: %v", err)
	}
	env, repaired, err := store.Read()
	store.Close()
	if err != nil || repaired || env != ab.Factory {
		t.Errorf("boot state = %+v (repaired %v), %v; want the factory state %+v", env, repaired, err, ab.Factory)
	}

	// slot A: ISO 9660 with the boot chain, its slot.cfg and the medium; no El Torito
	a := table.Partitions[1]
	// go-diskfs' iso9660.Read does not add start to the directory's location: read a copy
	slotCopy := filepath.Join(t.TempDir(), "slot-a")
	sf, err := os.Create(slotCopy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(sf, io.NewSectionReader(f, a.GetStart(), a.GetSize())); err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	iso, err := iso9660.Read(file.New(sf, true), a.GetSize(), 0, 2048)
	if err != nil {
		t.Fatalf("slot A: %v", err)
	}
	readISO := func(p string) string {
		r, err := iso.OpenFile("/"+p, os.O_RDONLY)
		if err != nil {
			t.Fatalf("slot A %s: %v", p, err)
		}
		b, _ := io.ReadAll(r)
		return string(b)
	}
	if got := readISO("boot/vmlinuz"); !strings.HasPrefix(got, "kernel kkk") || len(got) != 5007 {
		t.Errorf("slot A boot/vmlinuz: %d bytes", len(got))
	}
	if got := readISO("boot/initrd.img"); got != "initrd" {
		t.Errorf("slot A boot/initrd.img = %q", got)
	}
	if got := readISO("live/build-id"); got != "0123\n" {
		t.Errorf("slot A live/build-id = %q", got)
	}
	if got := readISO(SlotCfg); got != string(SlotConfig([]string{"console=ttyS0,115200", "quiet"})) {
		t.Errorf("slot A %s = %q", SlotCfg, got)
	}
	head := make([]byte, 2048)
	if _, err := f.ReadAt(head, a.GetStart()+17*2048); err != nil {
		t.Fatal(err)
	}
	if head[0] == 0 && string(head[1:6]) == "CD001" && bytes.Contains(head, []byte("EL TORITO")) {
		t.Error("slot A has an El Torito boot record")
	}
	// slot B and the data partition ship as zeros
	for _, p := range table.Partitions[2:] {
		b := make([]byte, p.GetSize())
		if _, err := f.ReadAt(b, p.GetStart()); err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
			t.Errorf("%s is not all zeros", p.Name)
		}
	}
}

func TestDiskImageReproducible(t *testing.T) {
	c := diskChain(t)
	img1, zst1 := writeDiskImage(t, c)
	img2, zst2 := writeDiskImage(t, c)
	for _, p := range [][2]string{{img1, img2}, {zst1, zst2}} {
		a, _ := os.ReadFile(p[0])
		b, _ := os.ReadFile(p[1])
		if !bytes.Equal(a, b) {
			t.Errorf("%s and %s differ", filepath.Base(p[0]), filepath.Base(p[1]))
		}
	}
	// the .zst is the image
	zf, _ := os.Open(zst1)
	defer zf.Close()
	dec, err := zstd.NewReader(zf)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	got, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := os.ReadFile(img1); !bytes.Equal(got, want) {
		t.Error("the .img.zst does not decompress to the .img")
	}
	// another build (another id) gets other GUIDs
	c.BuildID = "4567"
	img3, _ := writeDiskImage(t, c)
	a, _ := os.ReadFile(img1)
	b, _ := os.ReadFile(img3)
	if bytes.Equal(a[512:1024], b[512:1024]) {
		t.Error("a different build id left the GPT header (disk GUID) the same")
	}
}

func TestDiskImageBundle(t *testing.T) {
	c := diskChain(t)
	var slot []byte
	c.Bundle = func(ctx context.Context, slotImage string, w io.Writer) error {
		b, err := os.ReadFile(slotImage)
		if err != nil {
			return err
		}
		slot = b
		_, err = w.Write([]byte("bundle of " + slotImage[len(filepath.Dir(slotImage))+1:]))
		return err
	}
	img, _ := writeDiskImage(t, c)
	disk, _ := os.ReadFile(img)
	// the bundle is made from exactly the bytes of slot A
	if len(slot) == 0 || !bytes.Equal(disk[9<<20:9<<20+len(slot)], slot) {
		t.Errorf("Bundle got %d bytes that are not slot A's", len(slot))
	}
	bundle, err := os.ReadFile(Temp(filepath.Dir(img), c.Base+".bundle"))
	if err != nil || !strings.HasPrefix(string(bundle), "bundle of ") {
		t.Errorf("bundle: %q, %v", bundle, err)
	}
	// no slot image is left beside the outputs
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(img), "*slot*"))
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestDiskImageBundleOnly: genai-build bundle's build writes the bundle alone, no disk and no .zst.
func TestDiskImageBundleOnly(t *testing.T) {
	c := diskChain(t)
	c.BundleOnly = true
	c.Bundle = func(ctx context.Context, slotImage string, w io.Writer) error {
		_, err := w.Write([]byte("bundle"))
		return err
	}
	dir := t.TempDir()
	ws, err := (diskImage{}).Write(context.Background(), c, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Format != "bundle" {
		t.Errorf("written %+v, want the bundle alone", ws)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 1 || left[0] != ws[0].Path {
		t.Errorf("files in the folder: %v, want only %s", left, ws[0].Path)
	}
}

func TestDiskImageSlotFull(t *testing.T) {
	c := diskChain(t)
	c.Disk.SlotSize = 1 << 20
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Initrd = big
	if _, err := (diskImage{}).Write(context.Background(), c, t.TempDir()); err == nil || !strings.Contains(err.Error(), "slot_size") {
		t.Errorf("Write of a slot too large = %v, want ErrSlotFull", err)
	}
}

func TestDiskGRUBConfigGolden(t *testing.T) {
	for _, tt := range []struct {
		golden string
		tries  int
	}{{"disk-grub.cfg.golden", 3}, {"disk-grub-1try.cfg.golden", 1}} {
		got := DiskGRUBConfig(0, 115200, tt.tries)
		p := filepath.Join("testdata", tt.golden)
		if *update {
			if err := os.WriteFile(p, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("DiskGRUBConfig(tries %d) differs from %s (go test -update to rewrite):\n%s", tt.tries, p, got)
		}
	}
}

func TestSlotConfig(t *testing.T) {
	for _, tt := range []struct {
		cmdline []string
		want    string
	}{
		{[]string{"console=ttyS0,115200", "quiet"}, "linux $slotdev/boot/vmlinuz genai.slot=$slot console=ttyS0,115200 quiet panic=10\ninitrd $slotdev/boot/initrd.img\n"},
		{[]string{"panic=30"}, "linux $slotdev/boot/vmlinuz genai.slot=$slot panic=30\ninitrd $slotdev/boot/initrd.img\n"},
	} {
		if got := string(SlotConfig(tt.cmdline)); !strings.HasSuffix(got, tt.want) {
			t.Errorf("SlotConfig(%v) = %q, want it to end in %q", tt.cmdline, got, tt.want)
		}
	}
}
