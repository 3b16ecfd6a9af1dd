package isohybrid_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/genai-os/genai-build/internal/isohybrid"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// template stands in for isohdpfx.bin: 432 recognisable bytes.
func template() []byte {
	b := make([]byte, 432)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func TestMBRGolden(t *testing.T) {
	m, err := isohybrid.MBR(isohybrid.Options{
		MBR: template(), BootLoaderLBA: 35, ESPStart: 36 * 4, ESPSize: 8200, DiskSignature: 0xdeadbeef,
	}, 13*1024*1024+4096)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "mbr.golden")
	if *update {
		if err := os.WriteFile(golden, m, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(m, want) {
		t.Errorf("MBR differs from %s (run go test -update if the change is intended)", golden)
	}
}

func TestMBRFields(t *testing.T) {
	for _, tc := range []struct {
		name           string
		size           int64
		espSize        uint32
		wantSectors    uint32
		wantEndSect    byte
		wantEndCyl     byte
		wantESPPresent bool
	}{
		{"one MiB exactly", 1 << 20, 0, 2048, 32, 0, false},
		{"a little over 1 MiB", 1<<20 + 2048, 100, 2 * 2048, 32, 1, true},
		{"300 MiB", 300 << 20, 8192, 300 * 2048, 32 + ((299 & 0x300) >> 2), 299 & 0xFF, true},
		// more than 1024 cylinders: CHS end is capped at cylinder 1023, LBA size is not.
		{"2 GiB", 2 << 30, 8192, 2048 * 2048, 32 + 0xC0, 0xFF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := isohybrid.MBR(isohybrid.Options{MBR: template(), BootLoaderLBA: 40, ESPStart: 200, ESPSize: tc.espSize, DiskSignature: 7}, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m[:432], template()) {
				t.Error("boot code not copied")
			}
			if got := binary.LittleEndian.Uint32(m[432:]); got != 160 {
				t.Errorf("loader LBA = %d, want 160", got)
			}
			if got := binary.LittleEndian.Uint32(m[440:]); got != 7 {
				t.Errorf("signature = %d", got)
			}
			p1 := m[446:462]
			if p1[0] != 0x80 || p1[4] != 0 || p1[1] != 0 || p1[2] != 1 || p1[3] != 0 || p1[5] != 63 {
				t.Errorf("partition 1 = % x", p1)
			}
			if p1[6] != tc.wantEndSect || p1[7] != tc.wantEndCyl {
				t.Errorf("partition 1 end CHS sector/cyl = %#x/%#x, want %#x/%#x", p1[6], p1[7], tc.wantEndSect, tc.wantEndCyl)
			}
			if got := binary.LittleEndian.Uint32(p1[12:]); got != tc.wantSectors {
				t.Errorf("partition 1 sectors = %d, want %d", got, tc.wantSectors)
			}
			p2 := m[462:478]
			if tc.wantESPPresent {
				if p2[4] != 0xEF || p2[0] != 0 || binary.LittleEndian.Uint32(p2[8:]) != 200 || binary.LittleEndian.Uint32(p2[12:]) != tc.espSize {
					t.Errorf("partition 2 = % x", p2)
				}
			} else if !bytes.Equal(p2, make([]byte, 16)) {
				t.Errorf("partition 2 should be empty: % x", p2)
			}
			if !bytes.Equal(m[478:510], make([]byte, 32)) || m[510] != 0x55 || m[511] != 0xAA {
				t.Error("entries 3-4 or boot signature wrong")
			}
		})
	}
}

func TestMBRErrors(t *testing.T) {
	if _, err := isohybrid.MBR(isohybrid.Options{MBR: make([]byte, 100)}, 1<<20); err == nil {
		t.Error("short template accepted")
	}
	if _, err := isohybrid.MBR(isohybrid.Options{MBR: template(), ESPStart: 2040, ESPSize: 100}, 1<<20); err == nil {
		t.Error("ESP beyond the image accepted")
	}
}

func TestApplyAndPad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.iso")
	img := make([]byte, 20*2048+512)
	loader := img[10*2048:]
	copy(loader[0x40:], []byte{0xFB, 0xC0, 0x78, 0x70})
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if err := isohybrid.Apply(f, isohybrid.Options{MBR: template(), BootLoaderLBA: 11}); !errors.Is(err, isohybrid.ErrNoSignature) {
		t.Fatalf("wrong loader: err = %v, want ErrNoSignature", err)
	}
	opts := isohybrid.Options{MBR: template(), BootLoaderLBA: 10, ESPStart: 48, ESPSize: 8, DiskSignature: 1}
	if err := isohybrid.Apply(f, opts); err != nil {
		t.Fatal(err)
	}
	size, err := isohybrid.Pad(f)
	if err != nil {
		t.Fatal(err)
	}
	if size != 1<<20 {
		t.Errorf("padded size = %d", size)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := isohybrid.MBR(opts, int64(len(img)))
	if len(got) != 1<<20 || !bytes.Equal(got[:512], want) || !bytes.Equal(got[512:len(img)], img[512:]) {
		t.Error("image content wrong after Apply+Pad")
	}
	if size, err := isohybrid.Pad(f); err != nil || size != 1<<20 {
		t.Errorf("second Pad = %d, %v", size, err)
	}
}

// TestUEFIOnlyMBR: an image without BIOS boot gets no boot code and the ESP as its only partition,
// which is what UEFI firmware looks for on a USB stick.
func TestUEFIOnlyMBR(t *testing.T) {
	opts := isohybrid.Options{UEFIOnly: true, ESPStart: 100, ESPSize: 2048, DiskSignature: 0xdeadbeef}
	m, err := isohybrid.MBR(opts, 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range m[:440] {
		if b != 0 {
			t.Fatalf("boot code byte %d = %#x, want none", i, b)
		}
	}
	p := m[446:462]
	if p[0] != 0 || p[4] != 0xEF || binary.LittleEndian.Uint32(p[8:12]) != 100 || binary.LittleEndian.Uint32(p[12:16]) != 2048 {
		t.Errorf("first entry = % x, want the ESP at 100 for 2048 sectors, not bootable", p)
	}
	for i, b := range m[462:510] {
		if b != 0 {
			t.Fatalf("entries 2-4 byte %d = %#x, want empty", i, b)
		}
	}
	if binary.LittleEndian.Uint32(m[440:444]) != 0xdeadbeef || m[510] != 0x55 || m[511] != 0xAA {
		t.Errorf("signature fields wrong: % x", m[440:512])
	}
	for _, bad := range []isohybrid.Options{{UEFIOnly: true}, {UEFIOnly: true, ESPStart: 6000, ESPSize: 2048}} {
		if _, err := isohybrid.MBR(bad, 3<<20); err == nil {
			t.Errorf("MBR(%+v) = nil error, want one", bad)
		}
	}
}
