package boot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemoryMB(t *testing.T) {
	root := t.TempDir()
	// The firmware map QEMU's SeaBIOS gives a guest with -m 160 (e820: low RAM, a reserved hole,
	// then RAM up to 160 MiB less the BIOS's top 128 KiB).
	for i, r := range [][3]string{{"0x0", "0x9fbff", "System RAM"}, {"0x9fc00", "0x9ffff", "Reserved"},
		{"0x100000", "0x9fdffff", "System RAM"}, {"0x9fe0000", "0x9ffffff", "Reserved"}} {
		d := filepath.Join(root, "sys/firmware/memmap", string(rune('0'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"start": r[0], "end": r[1], "type": r[2]} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if mb, err := MemoryMB(root); err != nil || mb != 160 {
		t.Errorf("MemoryMB = %d, %v; want 160", mb, err)
	}
	// Without a memory map: MemTotal.
	root = t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte("MemTotal:         131072 kB\nMemFree: 1 kB\n"), 0o644)
	if mb, err := MemoryMB(root); err != nil || mb != 128 {
		t.Errorf("MemoryMB from meminfo = %d, %v; want 128", mb, err)
	}
}
