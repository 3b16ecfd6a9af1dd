package ab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Disk is an A/B disk's partitions, as device paths (/dev/vda1, ...).
type Disk struct {
	Name                    string // the whole disk's kernel name: vda, nvme0n1, sda
	ESP, SlotA, SlotB, Data string
}

// Slot is the device of slot s.
func (d Disk) Slot(s Slot) string {
	if s == B {
		return d.SlotB
	}
	return d.SlotA
}

// partition is one /sys/class/block entry that is a partition.
type partition struct {
	name, disk, partName string
}

// partitions lists the partitions under sysBlock (/sys/class/block) with their disk and GPT
// name (PARTNAME= of uevent; the kernel sets it from the GPT entry, block/partitions/efi.c).
func partitions(sysBlock string) ([]partition, error) {
	ents, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil, err
	}
	var out []partition
	for _, e := range ents {
		p := filepath.Join(sysBlock, e.Name())
		if _, err := os.Stat(filepath.Join(p, "partition")); err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		ue, err := os.ReadFile(filepath.Join(p, "uevent"))
		if err != nil {
			continue
		}
		part := partition{name: e.Name(), disk: filepath.Base(filepath.Dir(real))}
		sc := bufio.NewScanner(bytes.NewReader(ue))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PARTNAME="); ok {
				part.partName = v
			}
		}
		out = append(out, part)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// FindDisk returns the A/B disk that holds the partition named part (a kernel name such as
// vda2: the slot the system booted from). devDir is /dev.
func FindDisk(sysBlock, devDir, part string) (Disk, error) {
	parts, err := partitions(sysBlock)
	if err != nil {
		return Disk{}, fmt.Errorf("listing partitions: %w", err)
	}
	disk := ""
	for _, p := range parts {
		if p.name == part {
			disk = p.disk
		}
	}
	if disk == "" {
		return Disk{}, fmt.Errorf("no partition %s in %s", part, sysBlock)
	}
	return diskOf(parts, devDir, disk)
}

// FindDiskBySlot returns the A/B disk whose partition named after slot s (genai-a, genai-b) is
// the only one of that name on the machine.
func FindDiskBySlot(sysBlock, devDir string, s Slot) (Disk, error) {
	parts, err := partitions(sysBlock)
	if err != nil {
		return Disk{}, fmt.Errorf("listing partitions: %w", err)
	}
	var disks []string
	for _, p := range parts {
		if p.partName == s.PartName() {
			disks = append(disks, p.disk)
		}
	}
	switch len(disks) {
	case 0:
		return Disk{}, fmt.Errorf("no partition named %s: this is not an A/B disk system", s.PartName())
	case 1:
		return diskOf(parts, devDir, disks[0])
	}
	return Disk{}, fmt.Errorf("partitions named %s on several disks (%s): detach the other A/B disk", s.PartName(), strings.Join(disks, ", "))
}

func diskOf(parts []partition, devDir, disk string) (Disk, error) {
	d := Disk{Name: disk}
	for _, p := range parts {
		if p.disk != disk {
			continue
		}
		dev := filepath.Join(devDir, p.name)
		var slot *string
		switch p.partName {
		case ESPName:
			slot = &d.ESP
		case A.PartName():
			slot = &d.SlotA
		case B.PartName():
			slot = &d.SlotB
		case DataName:
			slot = &d.Data
		default:
			continue
		}
		if *slot != "" {
			return Disk{}, fmt.Errorf("disk %s has two partitions named %s", disk, p.partName)
		}
		*slot = dev
	}
	var missing []string
	for _, x := range []struct{ dev, name string }{{d.ESP, ESPName}, {d.SlotA, A.PartName()}, {d.SlotB, B.PartName()}, {d.Data, DataName}} {
		if x.dev == "" {
			missing = append(missing, x.name)
		}
	}
	if len(missing) > 0 {
		return Disk{}, fmt.Errorf("disk %s has no partition named %s: not an A/B disk of this layout", disk, strings.Join(missing, ", "))
	}
	return d, nil
}

// PartName returns the GPT name of the partition dev (a kernel name such as vda2) from sysfs, or
// "" when it has none.
func PartName(sysBlock, dev string) (string, error) {
	ue, err := os.ReadFile(filepath.Join(sysBlock, dev, "uevent"))
	if err != nil {
		return "", err
	}
	for l := range strings.SplitSeq(string(ue), "\n") {
		if v, ok := strings.CutPrefix(l, "PARTNAME="); ok {
			return v, nil
		}
	}
	return "", nil
}
