package memreq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestCompute(t *testing.T) {
	// The server edition's figures (see README.md, "Memory"): a 30 MiB kernel footprint, an
	// 18.5 MB initramfs unpacking to 62 MB in 3000 entries.
	in := Inputs{KernelInitSize: 30 << 20, InitrdCompressed: 18_500_000, UnpackedFiles: 62_000_000, Entries: 3000, Placement: RAM}
	e, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	sum := float64(30<<20+18_500_000+62_000_000+3000*perEntry+KernelRuntime+BootUnits) * 64 / 63 / (1 << 20)
	if float64(e.MinMB) < sum || float64(e.MinMB) >= sum+roundMB || e.MinMB%roundMB != 0 {
		t.Errorf("MinMB = %d, want the next multiple of %d above %.1f", e.MinMB, roundMB, sum)
	}
	// More to unpack needs more memory; never less.
	in.UnpackedFiles += 64 << 20
	if e2, _ := Compute(in); e2.MinMB < e.MinMB+64 {
		t.Errorf("64 MiB more files: %d MiB, was %d", e2.MinMB, e.MinMB)
	}
	for name, bad := range map[string]Inputs{
		"no kernel":       {InitrdCompressed: 1, Placement: RAM},
		"no initrd":       {KernelInitSize: 1, Placement: RAM},
		"other placement": {KernelInitSize: 1, InitrdCompressed: 1, Placement: "disk"},
	} {
		if _, err := Compute(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKernelInitSize(t *testing.T) {
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	binary.LittleEndian.PutUint32(b[0x260:], 0x2c5c000)
	if n, err := KernelInitSize(bytes.NewReader(b)); err != nil || n != 0x2c5c000 {
		t.Errorf("KernelInitSize = %#x, %v", n, err)
	}
	binary.LittleEndian.PutUint16(b[0x206:], 0x0209)
	if _, err := KernelInitSize(bytes.NewReader(b)); err == nil {
		t.Error("protocol 2.09 (no init_size) accepted")
	}
	copy(b[0x202:], "MZ\x00\x00")
	if _, err := KernelInitSize(bytes.NewReader(b)); !errors.Is(err, ErrNotBzImage) {
		t.Errorf("no HdrS: %v", err)
	}
}
