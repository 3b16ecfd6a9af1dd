// Package isohybrid turns a finished ISO 9660 image into one that also boots from a USB stick: it
// writes the classic isohybrid MBR of syslinux (utils/isohybrid.c, initialise_mbr, with the -u
// layout) into the first 512 bytes, which ISO 9660 leaves to the system (ECMA-119 6.2.1), and pads
// the image to a whole cylinder of 64 heads x 32 sectors (1 MiB).
package isohybrid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// SectorSize is the MBR's unit.
	SectorSize = 512
	// isoBlock is the ISO 9660 logical block (ECMA-119 6.1.2); isohybrid.c writes de_lba*4.
	isoBlock = 2048

	// codeSize is the part of isohdpfx.bin copied verbatim (isohybrid.c: MBRSIZE, "offset 432").
	codeSize = 432

	// Geometry isohybrid.c uses by default: head = 64, sector = 32, so a cylinder is 1 MiB.
	heads         = 64
	sectorsPerTrk = 32
	// CylinderSize is the unit Pad rounds to.
	CylinderSize = heads * sectorsPerTrk * SectorSize
	// maxCylinders is the most a CHS address can name (10-bit cylinder); isohybrid.c caps cc at 1024.
	maxCylinders = 1024

	// Partition types: 0x00 for the whole-image entry under -u (isohybrid.c: "if (mode & EFI) type = 0"),
	// 0xEF for the EFI System Partition (UEFI 2.10, 5.2.2 "OS Type 0xEF").
	typeISO = 0x00
	typeESP = 0xEF
)

// Options describes what Apply writes.
type Options struct {
	// MBR is isohdpfx.bin from the isolinux package: only its first 432 bytes (the boot code) are used,
	// so both the 432-byte file Debian ships and a full 512-byte sector work.
	MBR []byte
	// BootLoaderLBA is where isolinux.bin lives in the ISO, in 2048-byte blocks (its El Torito load RBA).
	BootLoaderLBA uint32
	// ESPStart and ESPSize place the EFI System Partition (the FAT image file inside the ISO) in
	// 512-byte sectors. ESPSize 0 means no ESP partition.
	ESPStart, ESPSize uint32
	// DiskSignature is the NT disk signature at byte 440. Derive it from the content, never at random.
	DiskSignature uint32
	// UEFIOnly writes an MBR for an image with no BIOS boot: no boot code (MBR and BootLoaderLBA
	// unused) and one partition, the ESP, which UEFI firmware boots from a USB stick (UEFI 2.10,
	// 5.2.1 "Legacy Master Boot Record").
	UEFIOnly bool
}

// ErrNoSignature means the boot loader at BootLoaderLBA is not an isohybrid-capable isolinux.bin.
var ErrNoSignature = errors.New("isohybrid: boot loader has no isolinux hybrid signature 0x7078c0fb at offset 0x40 (isolinux-debug.bin cannot boot hybrid)")

// hybridSignature is what isolinux.bin carries at offset 0x40 (isohybrid.c: memcmp(buf, "\xFB\xC0\x78\x70", 4)).
var hybridSignature = []byte{0xFB, 0xC0, 0x78, 0x70}

// CheckLoader reports whether b (the start of isolinux.bin) carries the hybrid signature.
func CheckLoader(b []byte) error {
	if len(b) < 0x44 || string(b[0x40:0x44]) != string(hybridSignature) {
		return ErrNoSignature
	}
	return nil
}

// MBR builds the 512-byte hybrid MBR for an image of imageSize bytes (before padding; the whole-image
// partition covers the image rounded up to a whole cylinder, as isohybrid.c's psize = c*head*sector).
func MBR(opts Options, imageSize int64) ([]byte, error) {
	if opts.UEFIOnly {
		return uefiMBR(opts, imageSize)
	}
	if len(opts.MBR) < codeSize {
		return nil, fmt.Errorf("isohybrid: MBR template is %d bytes, want at least %d (isohdpfx.bin)", len(opts.MBR), codeSize)
	}
	if imageSize <= 0 {
		return nil, fmt.Errorf("isohybrid: empty image")
	}
	cyl := (imageSize + CylinderSize - 1) / CylinderSize
	if cyl*heads*sectorsPerTrk > 0xFFFFFFFF {
		return nil, fmt.Errorf("isohybrid: image of %d bytes is too big for an MBR", imageSize)
	}
	if uint64(opts.BootLoaderLBA)*4 > 0xFFFFFFFF {
		return nil, fmt.Errorf("isohybrid: boot loader LBA %d out of range", opts.BootLoaderLBA)
	}
	if opts.ESPSize > 0 && int64(opts.ESPStart)+int64(opts.ESPSize) > cyl*CylinderSize/SectorSize {
		return nil, fmt.Errorf("isohybrid: ESP (%d+%d sectors) lies beyond the image", opts.ESPStart, opts.ESPSize)
	}

	m := make([]byte, SectorSize)
	copy(m, opts.MBR[:codeSize])
	// 432: LBA of isolinux.bin in 512-byte sectors, read by the MBR code; 436: zero (upper half).
	binary.LittleEndian.PutUint32(m[432:436], opts.BootLoaderLBA*4)
	// 440: disk signature; 444: two zero bytes (isohybrid.c "offset 444").
	binary.LittleEndian.PutUint32(m[440:444], opts.DiskSignature)

	// Partition entry 1 (446): bootable, type 0, from sector 0 over every cylinder. Start CHS is
	// head 0, sector 1, cylinder 0; end CHS is the last head and sector of cylinder cc-1, with the
	// cylinder's two high bits in the sector byte (isohybrid.c: esect, ecyle).
	cc := cyl
	if cc > maxCylinders {
		cc = maxCylinders
	}
	p1 := m[446:462]
	p1[0] = 0x80
	p1[1], p1[2], p1[3] = 0, 1, 0
	p1[4] = typeISO
	p1[5] = heads - 1
	p1[6] = byte(sectorsPerTrk + (((cc - 1) & 0x300) >> 2))
	p1[7] = byte((cc - 1) & 0xFF)
	binary.LittleEndian.PutUint32(p1[8:12], 0)
	binary.LittleEndian.PutUint32(p1[12:16], uint32(cyl*heads*sectorsPerTrk))

	// Partition entry 2 (462): the ESP.
	if opts.ESPSize > 0 {
		espEntry(m[462:478], opts)
	}
	// 510: boot signature 0x55 0xAA.
	m[510], m[511] = 0x55, 0xAA
	return m, nil
}

// uefiMBR is MBR for an image without BIOS boot: zero boot code, the disk signature, and the ESP
// as the only partition entry.
func uefiMBR(opts Options, imageSize int64) ([]byte, error) {
	if imageSize <= 0 {
		return nil, fmt.Errorf("isohybrid: empty image")
	}
	if opts.ESPSize == 0 {
		return nil, fmt.Errorf("isohybrid: a UEFI-only image needs its ESP as a partition")
	}
	cyl := (imageSize + CylinderSize - 1) / CylinderSize
	if int64(opts.ESPStart)+int64(opts.ESPSize) > cyl*CylinderSize/SectorSize {
		return nil, fmt.Errorf("isohybrid: ESP (%d+%d sectors) lies beyond the image", opts.ESPStart, opts.ESPSize)
	}
	m := make([]byte, SectorSize)
	binary.LittleEndian.PutUint32(m[440:444], opts.DiskSignature)
	espEntry(m[446:462], opts)
	m[510], m[511] = 0x55, 0xAA
	return m, nil
}

// espEntry writes the ESP's 16-byte partition entry, not bootable, CHS fe ff ff ("use LBA") as
// isohybrid.c writes it.
func espEntry(p []byte, opts Options) {
	p[0] = 0x00
	p[1], p[2], p[3] = 0xFE, 0xFF, 0xFF
	p[4] = typeESP
	p[5], p[6], p[7] = 0xFE, 0xFF, 0xFF
	binary.LittleEndian.PutUint32(p[8:12], opts.ESPStart)
	binary.LittleEndian.PutUint32(p[12:16], opts.ESPSize)
}

// Apply writes the hybrid MBR into the first 512 bytes of f, a finished ISO. It first checks that
// the block at BootLoaderLBA starts with an isohybrid-capable isolinux.bin. The first partition
// covers the image rounded up to a whole MiB; call Pad afterwards so that the file matches it.
func Apply(f io.ReadWriteSeeker, opts Options) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("isohybrid: %w", err)
	}
	if !opts.UEFIOnly {
		if _, err := f.Seek(int64(opts.BootLoaderLBA)*isoBlock, io.SeekStart); err != nil {
			return fmt.Errorf("isohybrid: %w", err)
		}
		head := make([]byte, 0x44)
		if _, err := io.ReadFull(f, head); err != nil {
			return fmt.Errorf("isohybrid: reading the boot loader at LBA %d: %w", opts.BootLoaderLBA, err)
		}
		if err := CheckLoader(head); err != nil {
			return err
		}
	}
	m, err := MBR(opts, size)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("isohybrid: %w", err)
	}
	if _, err := f.Write(m); err != nil {
		return fmt.Errorf("isohybrid: writing the MBR: %w", err)
	}
	return nil
}

// Pad appends zeros to f up to a whole cylinder (1 MiB), as isohybrid.c does, so that the first
// partition ends at the end of the file. It returns the new size.
func Pad(f io.WriteSeeker) (int64, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("isohybrid: %w", err)
	}
	pad := (CylinderSize - size%CylinderSize) % CylinderSize
	if pad == 0 {
		return size, nil
	}
	if _, err := f.Write(make([]byte, pad)); err != nil {
		return 0, fmt.Errorf("isohybrid: padding: %w", err)
	}
	return size + pad, nil
}
