package output

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/google/uuid"
	"github.com/klauspost/compress/zstd"

	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/esp"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/iso"
)

// diskImage writes the embedded edition's raw GPT disk (see DiskLayout): Debian's signed shim and
// disk GRUB on the ESP with a generated grub.cfg that picks slot A or B from the boot state (the
// two grubenv copies), slot A an ISO 9660 file system with the kernel, the initramfs, the slot's
// own GRUB commands and the medium, slot B and the data partition zeros. Beside it, the image
// compressed with zstd for download, and the signed update bundle of slot A (Chain.Bundle).
type diskImage struct{}

// DiskParams are the edition's choices for the disk image.
type DiskParams struct {
	// SlotSize is the size of each root slot in bytes (a whole number of MiB); 0: DefaultSlotSize.
	SlotSize int64
	// Tries is how often GRUB boots a slot on trial before it goes back to the committed one;
	// 0: DefaultTries.
	Tries int
}

const (
	mib = 1 << 20
	// DefaultSlotSize and DefaultTries are the disk image's defaults (the edition's disk: keys).
	DefaultSlotSize = 48 * mib
	DefaultTries    = ab.DefaultTries
	// MaxTries: GRUB cannot do arithmetic, so grub.cfg counts down with an if-ladder of single
	// digits (internal/ab's genai_left is 0-9).
	MaxTries = 9
	// espSize holds shim (1 MB) and GRUB (2.3 MB) with room to spare, as FAT16 (more than 4085
	// clusters of 1 KiB; FACTS.md: OVMF did not read a small FAT32).
	espSize = 8 * mib
	// dataSize is the data partition as shipped; the first boot grows it to the disk's end.
	dataSize = 4 * mib
	// diskAlign: partitions start on 1 MiB boundaries (what parted and sgdisk do; any erase
	// block size up to 1 MiB divides it).
	diskAlign = mib
	// gptSectors are the sectors a GPT takes at either end (UEFI 2.10, 5.3: protective MBR,
	// header, and 128 entries of 128 bytes = 32 sectors; the backup has no MBR).
	gptSectors = 34
	sector     = 512
)

// GPT partition names of the disk, internal/ab's.
var (
	PartESP   = ab.ESPName
	PartSlotA = ab.A.PartName()
	PartSlotB = ab.B.PartName()
	PartData  = ab.DataName
)

// ESP paths of the disk's boot files. Debian's disk GRUB has the prefix /EFI/debian on the
// partition it was loaded from and reads grub.cfg there; shim, as the removable-media loader
// EFI/BOOT/BOOTX64.EFI (UEFI 2.10, 3.5.1.1), loads grubx64.efi from its own folder.
const (
	ESPShim    = "EFI/BOOT/BOOTX64.EFI"
	ESPGRUB    = "EFI/BOOT/grubx64.efi"
	ESPGrubCfg = "EFI/debian/grub.cfg"
	ESPEnv     = ab.EnvPath
	ESPEnv2    = ab.EnvPath2
	// SlotCfg is the slot's own GRUB commands (its kernel command line), on the slot.
	SlotCfg = "boot/grub/slot.cfg"
)

// Part is one partition of the layout.
type Part struct {
	Name   string
	Type   gpt.Type
	Start  int64 // bytes
	Size   int64 // bytes
	Number int   // 1-based GPT index
}

// DiskLayout is the disk's partitions, in order, and its total size.
type DiskLayout struct {
	Parts []Part
	Size  int64
}

// Layout places the partitions for slots of slotSize bytes: ESP, A, B, data, each 1 MiB aligned,
// with room for the backup GPT at the end.
func Layout(slotSize int64) (DiskLayout, error) {
	if slotSize <= 0 || slotSize%diskAlign != 0 {
		return DiskLayout{}, fmt.Errorf("slot size %d: want a positive whole number of MiB", slotSize)
	}
	var l DiskLayout
	at := int64(diskAlign)
	for i, p := range []struct {
		name string
		typ  gpt.Type
		size int64
	}{
		{PartESP, gpt.EFISystemPartition, espSize},
		{PartSlotA, gpt.LinuxFilesystem, slotSize},
		{PartSlotB, gpt.LinuxFilesystem, slotSize},
		{PartData, gpt.LinuxFilesystem, dataSize},
	} {
		l.Parts = append(l.Parts, Part{Name: p.name, Type: p.typ, Start: at, Size: p.size, Number: i + 1})
		at += p.size
	}
	// the backup GPT (33 sectors) in the last MiB, so the disk stays a whole number of MiB
	l.Size = at + diskAlign
	return l, nil
}

func (d DiskParams) slotSize() int64 {
	if d.SlotSize == 0 {
		return DefaultSlotSize
	}
	return d.SlotSize
}

func (d DiskParams) tries() int {
	if d.Tries == 0 {
		return DefaultTries
	}
	return d.Tries
}

func (diskImage) Loaders() []string { return []string{RoleShim, RoleDiskGRUB} }

func (diskImage) Names(base string) []string {
	return []string{base + ".img", base + ".img.zst", base + ".bundle"}
}

// ErrSlotFull is a slot image larger than the edition's slot size.
var ErrSlotFull = errors.New("the slot image does not fit the slot: raise the edition's disk: slot_size, or make the system smaller")

func (w diskImage) Write(ctx context.Context, c *Chain, dir string) ([]Written, error) {
	names := w.Names(c.Base)
	tries := c.Disk.tries()
	if tries < 1 || tries > MaxTries {
		return nil, fmt.Errorf("disk image: tries %d: want 1 to %d", tries, MaxTries)
	}
	layout, err := Layout(c.Disk.slotSize())
	if err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	if len(c.Menu.Entries) == 0 {
		return nil, errors.New("disk image: the boot menu has no entry to take the command line from")
	}
	grubCfg := DiskGRUBConfig(c.Menu.SerialUnit, c.Menu.SerialBaud, tries)
	espFiles, espImg, err := diskESP(c, grubCfg, layout.Parts[0].Size)
	if err != nil {
		return nil, err
	}
	// Slot A: an ISO 9660 file system with no boot record; GRUB and the init's live finder both
	// read ISO 9660 from a partition.
	slotFiles := []File{
		{Path: ".disk/info", Data: []byte(c.Title), Origin: "generated:image"},
		{Path: isoKernel, Source: c.Kernel, Origin: c.KernelOrigin},
		{Path: isoInitrd, Source: c.Initrd, Origin: "generated:initramfs"},
		{Path: SlotCfg, Data: SlotConfig(c.Menu.Entries[0].Cmdline), Origin: "generated:boot-menu"},
	}
	slotFiles = append(slotFiles, c.Medium...)
	t, err := isoTree(slotFiles)
	if err != nil {
		return nil, err
	}
	// beside the outputs, named so that the build clears it after a crash (a sidecar of the .img)
	slotPath := filepath.Join(dir, names[0]+".slot.partial-a")
	defer os.Remove(slotPath)
	if err := iso.Write(ctx, slotPath, iso.Spec{VolumeID: c.VolumeID, SourceDate: c.SourceDate, Files: t}); err != nil {
		return nil, fmt.Errorf("disk image: slot A: %w", err)
	}
	// A slot image that does not fit the slot makes neither a disk nor a bundle a device could
	// install.
	if fi, err := os.Stat(slotPath); err != nil {
		return nil, err
	} else if fi.Size() > layout.Parts[1].Size {
		return nil, fmt.Errorf("disk image: slot A: %d bytes, the slot has %d: %w", fi.Size(), layout.Parts[1].Size, ErrSlotFull)
	}
	var out []Written
	// genai-build bundle keeps only the bundle: the disk and its .zst are not written.
	if !c.BundleOnly {
		imgPath := Temp(dir, names[0])
		if err := writeDisk(imgPath, c, layout, espImg, slotPath); err != nil {
			return nil, err
		}
		files := append(prefixed(espFiles, "esp"), slotFiles...)
		out = append(out, Written{Name: names[0], Format: "disk-image", Path: imgPath, Files: files})
		zstPath := Temp(dir, names[1])
		if err := compress(ctx, imgPath, zstPath); err != nil {
			return nil, fmt.Errorf("disk image: %w", err)
		}
		out = append(out, Written{Name: names[1], Format: "zstd", Path: zstPath})
	}
	if c.Bundle != nil {
		bundlePath := Temp(dir, names[2])
		if err := writeWith(bundlePath, func(f io.Writer) error { return c.Bundle(ctx, slotPath, f) }); err != nil {
			return nil, fmt.Errorf("update bundle: %w", err)
		}
		out = append(out, Written{Name: names[2], Format: "bundle", Path: bundlePath})
	}
	return out, nil
}

// prefixed names the ESP's files as the manifest records them: where they are ("esp").
func prefixed(files []File, where string) []File {
	out := make([]File, len(files))
	for i, f := range files {
		f.Path = where + "/" + f.Path
		out[i] = f
	}
	return out
}

// diskESP is the ESP's file system of size bytes: shim, the disk GRUB, grub.cfg and the factory
// boot state in its two copies.
func diskESP(c *Chain, grubCfg []byte, size int64) ([]File, []byte, error) {
	env := factoryEnv()
	files := []File{
		{Path: ESPShim, Source: c.Loaders[RoleShim], Origin: "recipe:uefi-loaders (shim-signed)"},
		{Path: ESPGRUB, Source: c.Loaders[RoleDiskGRUB], Origin: "recipe:uefi-loaders (grub-efi-amd64-signed, disk image)"},
		{Path: ESPGrubCfg, Data: grubCfg, Origin: "generated:ab-boot"},
		{Path: ESPEnv, Data: env, Origin: "generated:ab-boot (factory state)"},
		{Path: ESPEnv2, Data: env, Origin: "generated:ab-boot (factory state)"},
	}
	t := fstree.New()
	for _, f := range files {
		e := fstree.Entry{Path: f.Path, Kind: fstree.File, Mode: 0o644, Source: f.Source, Data: f.Data, Size: int64(len(f.Data))}
		if f.Source != "" {
			fi, err := os.Stat(f.Source)
			if err != nil {
				return nil, nil, fmt.Errorf("disk image: ESP: %w", err)
			}
			e.Size = fi.Size()
		}
		if err := t.Add(e); err != nil {
			return nil, nil, err
		}
	}
	img, err := esp.BuildSized(t, size, c.SourceDate)
	if err != nil {
		return nil, nil, fmt.Errorf("disk image: %w", err)
	}
	return files, img, nil
}

// guid is a name-based (SHA-1, RFC 9562 5.5) GUID of what within the build, so equal builds get
// equal GUIDs and different builds different ones.
func guid(buildID, what string) string {
	return strings.ToUpper(uuid.NewSHA1(genaiNamespace, []byte(buildID+"/"+what)).String())
}

// genaiNamespace is the namespace of the disk's GUIDs (itself a SHA-1 name under the URL space).
var genaiNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("genai-os:disk-image"))

// writeDisk writes the image: the GPT (with a protective MBR), the ESP and slot A; the rest is
// left as holes, which read as zeros.
func writeDisk(path string, c *Chain, l DiskLayout, espImg []byte, slotPath string) error {
	slot, err := os.Open(slotPath)
	if err != nil {
		return err
	}
	defer slot.Close()
	id := c.BuildID
	if id == "" {
		id = c.Base + "@" + c.SourceDate.UTC().Format("20060102T150405Z")
	}
	table := &gpt.Table{
		LogicalSectorSize:  sector,
		PhysicalSectorSize: sector,
		ProtectiveMBR:      true,
		GUID:               guid(id, "disk"),
	}
	for _, p := range l.Parts {
		table.Partitions = append(table.Partitions, &gpt.Partition{
			Index: p.Number,
			Start: uint64(p.Start / sector),
			End:   uint64((p.Start+p.Size)/sector - 1),
			Size:  uint64(p.Size),
			Type:  p.Type,
			Name:  p.Name,
			GUID:  guid(id, p.Name),
		})
	}
	return writeFile(path, func(f *os.File) error {
		if err := f.Truncate(l.Size); err != nil {
			return err
		}
		if err := table.Write(f, l.Size); err != nil {
			return fmt.Errorf("GPT: %w", err)
		}
		if _, err := f.WriteAt(espImg, l.Parts[0].Start); err != nil {
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(f, l.Parts[1].Start), slot); err != nil {
			return fmt.Errorf("slot A: %w", err)
		}
		return nil
	})
}

// writeWith creates path, has fill write it, and syncs it.
func writeWith(path string, fill func(io.Writer) error) error {
	return writeFile(path, func(f *os.File) error { return fill(f) })
}

// writeFile is writeWith for a writer that needs the file itself (to size it, write at offsets).
func writeFile(path string, fill func(*os.File) error) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	return f.Sync()
}

// compress writes src as one zstd stream. One encoder goroutine: the frame's bytes then depend on
// the input only.
func compress(ctx context.Context, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeWith(dst, func(w io.Writer) error {
		enc, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return err
		}
		if _, err := io.Copy(enc, ctxReader{ctx, in}); err != nil {
			enc.Close()
			return err
		}
		return enc.Close()
	})
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
