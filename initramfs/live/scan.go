package live

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Device is one block device of /sys/class/block: a whole disk, a partition or a CD-ROM.
type Device struct {
	Name         string // kernel name (sr0, sda1, nvme0n1p2, vdb): for messages and /dev, never chosen by
	Major, Minor uint32
	Partition    bool
	Sectors      int64 // size in 512-byte sectors (the unit of /sys/class/block/*/size, block/genhd.c)
	// Skip says why the device is not tried ("" when it is).
	Skip string
}

// Devices numbers that never hold a medium (Documentation/admin-guide/devices.txt): the
// kernel's RAM disks and loop devices (ours, once layers are attached).
const (
	majorRAM  = 1
	majorLoop = 7
)

// FSTypes are the file systems a device is tried as, in order: ISO 9660 (a CD, or an ISO written
// to a USB stick or disk whole), and FAT for a partition (a stick or disk with the files copied
// onto its partition).
func (d Device) FSTypes() []string {
	if d.Partition {
		return []string{"iso9660", "vfat"}
	}
	return []string{"iso9660"}
}

// ScanDevices lists the block devices under dir (normally /sys/class/block), sorted by name,
// each with the reason it is skipped, if it is. A device that vanishes while it is read is left
// out.
func ScanDevices(dir string) ([]Device, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Device
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		d := Device{Name: e.Name()}
		b, err := os.ReadFile(filepath.Join(p, "dev"))
		if err != nil {
			continue
		}
		if d.Major, d.Minor, err = parseDev(strings.TrimSpace(string(b))); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(p, "partition")); err == nil {
			d.Partition = true
		}
		if b, err := os.ReadFile(filepath.Join(p, "size")); err == nil {
			d.Sectors, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		}
		switch {
		case d.Major == majorLoop:
			d.Skip = "loop device"
		case d.Major == majorRAM:
			d.Skip = "RAM disk"
		case d.Sectors == 0:
			d.Skip = "no medium (size 0)"
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func parseDev(s string) (uint32, uint32, error) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("dev %q: want major:minor", s)
	}
	a, err1 := strconv.ParseUint(maj, 10, 32)
	b, err2 := strconv.ParseUint(min, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("dev %q: %w", s, err)
	}
	return uint32(a), uint32(b), nil
}

// Seen is what the scan last found on one device, for the failed line.
type Seen struct {
	Device string
	Why    string
}

// Report lists what was seen, one "name: why" per device, in name order.
func Report(seen map[string]string) []Seen {
	out := make([]Seen, 0, len(seen))
	for d, why := range seen {
		out = append(out, Seen{Device: d, Why: why})
	}
	slices.SortFunc(out, func(a, b Seen) int { return strings.Compare(a.Device, b.Device) })
	return out
}
