// Package datapart prepares the data partition of an A/B disk (GPT name genai-data, the disk's
// last partition): on first boot it grows the partition to the end of the disk, tells the
// kernel, and makes its file system; on every boot it says what is there. Each step is done once
// and a power cut in any of them repeats that step on the next boot, never a later one:
//
//  1. grow: the GPT is rewritten backup first, then primary (package gpt); the partition ends at
//     the disk's last usable LBA, so a table that already ends there is not touched again;
//  2. the kernel's view of the partition is resized (BLKPG_RESIZE_PARTITION);
//  3. mkfs runs when the partition's FormattedAttr bit is clear;
//  4. only after mkfs succeeded is FormattedAttr set, in the same backup-then-primary write.
//
// The file system is mounted only once the bit is set, so nothing is ever written to a partition
// that a later boot could format again: a cut before step 4 loses an empty file system, never data.
package datapart

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/genai-os/genai-build/initramfs/gpt"
	"golang.org/x/sys/unix"
)

// FormattedAttr is the GPT attribute bit that says the partition's file system was made whole:
// bit 48, the first of the type-specific bits 48-63 (UEFI 2.10, table 5.7), none of which the
// Discoverable Partitions Specification gives a meaning for this type (it uses 59, 60 and 63).
const FormattedAttr = uint64(1) << 48

// blkpgResizePartition is BLKPG_RESIZE_PARTITION (include/uapi/linux/blkpg.h): unlike BLKRRPART,
// it works while another partition of the disk is mounted (the booted slot).
const blkpgResizePartition = 3

// Options says which disk and partition, and how to make the file system.
type Options struct {
	Disk string // the whole disk: /dev/vda (or an image file in tests)
	Part string // the partition's device, /dev/vda4 ("" for an image file: no kernel to tell)
	Name string // its GPT name, genai-data
	// Mkfs makes the file system on the partition, which starts at offset bytes into Disk and is
	// size bytes long; it must return nil only when the file system is complete and synced.
	Mkfs func(offset, size int64) error
}

// Result is what Prepare found and did.
type Result struct {
	Size      int64 // the partition's size in bytes
	Grown     bool  // grown to the disk's end by this call
	Formatted bool  // its file system made by this call
}

// Prepare grows and formats the partition when that has not been done yet (see the package
// comment). When it returns nil the partition holds a complete file system.
func Prepare(o Options) (Result, error) {
	var r Result
	f, err := os.OpenFile(o.Disk, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return r, fmt.Errorf("datapart: %w", err)
	}
	defer f.Close()
	size, sector, err := geometry(f)
	if err != nil {
		return r, fmt.Errorf("datapart: %s: %w", o.Disk, err)
	}
	t, err := gpt.Read(f, size, sector)
	if err != nil {
		return r, fmt.Errorf("datapart: %s: %w", o.Disk, err)
	}
	e, ok := t.Find(o.Name)
	if !ok {
		return r, fmt.Errorf("datapart: %s: no partition named %q", o.Disk, o.Name)
	}
	formatted := e.Attributes&FormattedAttr != 0
	if !formatted {
		grown, err := t.GrowToEnd(e.Index)
		if err != nil {
			return r, fmt.Errorf("datapart: %s: %w", o.Disk, err)
		}
		if grown {
			if err := t.Write(f); err != nil {
				return r, fmt.Errorf("datapart: %s: %w", o.Disk, err)
			}
			r.Grown = true
		}
		// Also when a cut came between the table's write and this one (a no-op when right).
		if err := gpt.FixProtectiveMBR(f, size, sector); err != nil {
			return r, fmt.Errorf("datapart: %s: %w", o.Disk, err)
		}
		e, _ = t.Find(o.Name)
	}
	start, length := int64(e.Start)*sector, int64(e.End-e.Start+1)*sector
	r.Size = length
	if o.Part != "" {
		// Every boot: after a cut between the GPT write and this, the kernel read the grown table.
		if err := resizeKernel(f, o.Part, e.Index+1, start, length); err != nil {
			return r, fmt.Errorf("datapart: %w", err)
		}
	}
	if formatted {
		return r, nil
	}
	if err := o.Mkfs(start, length); err != nil {
		return r, fmt.Errorf("datapart: make the file system on %s: %w", o.Name, err)
	}
	t.SetAttributes(e.Index, e.Attributes|FormattedAttr)
	if err := t.Write(f); err != nil {
		return r, fmt.Errorf("datapart: mark %s formatted: %w", o.Name, err)
	}
	r.Formatted = true
	return r, nil
}

// geometry is the disk's size in bytes and its logical sector size: from the block device's
// ioctls, or 512-byte sectors for an image file.
func geometry(f *os.File) (size, sector int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if fi.Mode()&os.ModeDevice == 0 {
		return fi.Size(), 512, nil
	}
	var sz uint64
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&sz))); e != 0 {
		return 0, 0, fmt.Errorf("BLKGETSIZE64: %w", e)
	}
	ss, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil {
		return 0, 0, fmt.Errorf("BLKSSZGET: %w", err)
	}
	return int64(sz), int64(ss), nil
}

// resizeKernel makes the kernel's partition pno of disk start at start and be length bytes
// long, when /sys says it is not already (BLKPG_RESIZE_PARTITION keeps the start; the kernel
// refuses another).
func resizeKernel(disk *os.File, part string, pno int, start, length int64) error {
	fi, err := disk.Stat()
	if err != nil || fi.Mode()&os.ModeDevice == 0 {
		return err
	}
	p := unix.BlkpgPartition{Start: start, Length: length, Pno: int32(pno)}
	arg := unix.BlkpgIoctlArg{Op: blkpgResizePartition, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, disk.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg))); e != 0 {
		return fmt.Errorf("resize %s in the kernel (BLKPG): %w", part, e)
	}
	pf, err := os.Open(part)
	if err != nil {
		return err
	}
	defer pf.Close()
	got, _, err := geometry(pf)
	if err != nil {
		return err
	}
	if got != length {
		return fmt.Errorf("%s: the kernel says %d bytes after the resize, the table %d", part, got, length)
	}
	return nil
}
