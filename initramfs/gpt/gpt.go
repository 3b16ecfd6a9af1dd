// Package gpt reads a GUID Partition Table, grows its last partition to the end of the disk and
// sets partition attributes, and writes it back in an order a power cut cannot break: the backup
// table first, then the primary one. The layout is the UEFI specification's (2.10, section 5.3:
// "GUID Partition Table (GPT) Disk Layout"); only what the init needs is here.
package gpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// signature is the header's first eight bytes (UEFI 2.10, table 5.5: "EFI PART").
const signature = "EFI PART"

// Header field offsets (UEFI 2.10, table 5.5, GPT Header).
const (
	offRevision    = 8
	offHeaderSize  = 12
	offHeaderCRC   = 16
	offMyLBA       = 24
	offAltLBA      = 32
	offFirstUsable = 40
	offLastUsable  = 48
	offDiskGUID    = 56
	offEntriesLBA  = 72
	offNumEntries  = 80
	offEntrySize   = 84
	offEntriesCRC  = 88
	minHeaderSize  = 92
)

// Partition entry offsets (UEFI 2.10, table 5.6, GPT Partition Entry).
const (
	entType   = 0
	entGUID   = 16
	entStart  = 32
	entEnd    = 40
	entAttrs  = 48
	entName   = 56
	nameBytes = 72 // 36 UTF-16LE code units
	minEntry  = 128
)

// protectiveType is the OS type of the protective MBR's one partition (UEFI 2.10, table 5.4).
const protectiveType = 0xEE

// Entry is one used partition entry.
type Entry struct {
	Index      int // 0-based slot in the entry array; the kernel's partition number is Index+1
	Start, End uint64
	Attributes uint64
	Name       string
}

// Table is a disk's GPT as read from one of its two copies.
type Table struct {
	SectorSize int64
	DiskSize   int64  // bytes
	header     []byte // one sector, the copy it was read from
	entries    []byte // the whole entry array
	// FromBackup is set when the primary copy was invalid and the backup was read.
	FromBackup bool
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// Read reads the GPT of a disk of size bytes with the given logical sector size: the primary
// header at LBA 1, or, when it or its entries fail their CRC32, the backup at the disk's last LBA
// (where the kernel looks, block/partitions/efi.c), else at the primary header's alternate LBA.
func Read(r io.ReaderAt, size, sectorSize int64) (*Table, error) {
	t := &Table{SectorSize: sectorSize, DiskSize: size}
	last := uint64(size/sectorSize) - 1
	perr := t.readCopy(r, 1)
	if perr == nil {
		return t, nil
	}
	alt := last
	if t.header != nil && headerOK(t.header) {
		alt = le64(t.header[offAltLBA:])
	}
	err := t.readCopy(r, last)
	if err != nil && alt != last {
		err = t.readCopy(r, alt)
	}
	if err != nil {
		return nil, fmt.Errorf("gpt: primary: %v; backup: %w", perr, err)
	}
	t.FromBackup = true
	return t, nil
}

func headerOK(h []byte) bool {
	if string(h[:8]) != signature {
		return false
	}
	n := le32(h[offHeaderSize:])
	if n < minHeaderSize || int(n) > len(h) {
		return false
	}
	c := bytes.Clone(h[:n])
	binary.LittleEndian.PutUint32(c[offHeaderCRC:], 0)
	return crc32.ChecksumIEEE(c) == le32(h[offHeaderCRC:])
}

func (t *Table) readCopy(r io.ReaderAt, lba uint64) error {
	h := make([]byte, t.SectorSize)
	if _, err := r.ReadAt(h, int64(lba)*t.SectorSize); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	t.header = h
	if !headerOK(h) {
		return errors.New("header: no signature or bad CRC32")
	}
	if le64(h[offMyLBA:]) != lba {
		return fmt.Errorf("header: MyLBA %d, read at %d", le64(h[offMyLBA:]), lba)
	}
	n, sz := le32(h[offNumEntries:]), le32(h[offEntrySize:])
	// SizeOfPartitionEntry: 128 x 2^n (UEFI 2.10, table 5.5); a sane count keeps the read small.
	if sz < minEntry || sz&(sz-1) != 0 || n == 0 || n > 1024 {
		return fmt.Errorf("header: %d entries of %d bytes", n, sz)
	}
	e := make([]byte, int(n)*int(sz))
	if _, err := r.ReadAt(e, int64(le64(h[offEntriesLBA:]))*t.SectorSize); err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	if crc32.ChecksumIEEE(e) != le32(h[offEntriesCRC:]) {
		return errors.New("entries: bad CRC32")
	}
	t.entries = e
	return nil
}

func (t *Table) entrySize() int { return int(le32(t.header[offEntrySize:])) }

func (t *Table) raw(i int) []byte {
	sz := t.entrySize()
	return t.entries[i*sz : (i+1)*sz]
}

// Entries lists the used entries (a type GUID that is not all zeros), in array order.
func (t *Table) Entries() []Entry {
	var out []Entry
	for i := 0; i < int(le32(t.header[offNumEntries:])); i++ {
		e := t.raw(i)
		if bytes.Equal(e[entType:entType+16], make([]byte, 16)) {
			continue
		}
		u := make([]uint16, nameBytes/2)
		for k := range u {
			u[k] = binary.LittleEndian.Uint16(e[entName+2*k:])
		}
		n := len(u)
		for n > 0 && u[n-1] == 0 {
			n--
		}
		out = append(out, Entry{Index: i, Start: le64(e[entStart:]), End: le64(e[entEnd:]),
			Attributes: le64(e[entAttrs:]), Name: string(utf16.Decode(u[:n]))})
	}
	return out
}

// Find returns the used entry with this partition name.
func (t *Table) Find(name string) (Entry, bool) {
	for _, e := range t.Entries() {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// LastUsable is the last LBA a partition may use in the table as read.
func (t *Table) LastUsable() uint64 { return le64(t.header[offLastUsable:]) }

// entriesSectors is how many sectors the entry array takes.
func (t *Table) entriesSectors() uint64 {
	return (uint64(len(t.entries)) + uint64(t.SectorSize) - 1) / uint64(t.SectorSize)
}

// EndUsable is the last usable LBA once the backup table sits at the end of this disk: the
// backup header takes the last LBA and its entry array the sectors before it (UEFI 2.10, 5.3.1).
func (t *Table) EndUsable() uint64 {
	last := uint64(t.DiskSize/t.SectorSize) - 1
	return last - t.entriesSectors() - 1
}

// GrowToEnd moves the backup table to the end of the disk and extends entry index to the last
// usable LBA. It refuses when another partition lies after it. It returns false, changing
// nothing, when the partition already ends there.
func (t *Table) GrowToEnd(index int) (bool, error) {
	var target *Entry
	es := t.Entries()
	for i := range es {
		if es[i].Index == index {
			target = &es[i]
		}
	}
	if target == nil {
		return false, fmt.Errorf("gpt: no partition in entry %d", index)
	}
	for _, e := range es {
		if e.Index != index && e.Start > target.Start {
			return false, fmt.Errorf("gpt: partition %q (entry %d) lies after %q: only the last partition can grow", e.Name, e.Index+1, target.Name)
		}
	}
	end := t.EndUsable()
	if target.End >= end {
		return false, nil
	}
	binary.LittleEndian.PutUint64(t.raw(index)[entEnd:], end)
	binary.LittleEndian.PutUint64(t.header[offLastUsable:], end)
	return true, nil
}

// SetAttributes replaces entry index's attribute bits (UEFI 2.10, table 5.7).
func (t *Table) SetAttributes(index int, attrs uint64) {
	binary.LittleEndian.PutUint64(t.raw(index)[entAttrs:], attrs)
}

// headerFor makes the header of one copy: its own and the other's LBA and its entries' LBA,
// with both CRC32s.
func (t *Table) headerFor(my, alt, entriesLBA uint64) []byte {
	h := bytes.Clone(t.header)
	binary.LittleEndian.PutUint64(h[offMyLBA:], my)
	binary.LittleEndian.PutUint64(h[offAltLBA:], alt)
	binary.LittleEndian.PutUint64(h[offEntriesLBA:], entriesLBA)
	binary.LittleEndian.PutUint32(h[offEntriesCRC:], crc32.ChecksumIEEE(t.entries))
	binary.LittleEndian.PutUint32(h[offHeaderCRC:], 0)
	n := le32(h[offHeaderSize:])
	binary.LittleEndian.PutUint32(h[offHeaderCRC:], crc32.ChecksumIEEE(h[:n]))
	return h
}

// WriterSyncer is a disk: a block device or an image file.
type WriterSyncer interface {
	io.WriterAt
	Sync() error
}

// Write writes the table with its backup at the end of the disk, in an order that leaves a
// valid table after a power cut at any point: the backup entries and header at the disk's end,
// sync, then the primary entries and header (whose alternate LBA names the new backup), sync,
// then the protective MBR's size. Until the primary is written a reader finds the old primary
// (and the old backup, which this does not overwrite); after it, the new one.
func (t *Table) Write(w WriterSyncer) error {
	last := uint64(t.DiskSize/t.SectorSize) - 1
	backupEntries := last - t.entriesSectors()
	primaryEntries := uint64(2) // the array follows the primary header (UEFI 2.10, 5.3.1)
	if !t.FromBackup {
		primaryEntries = le64(t.header[offEntriesLBA:])
	}
	ss := int64(t.SectorSize)
	steps := []struct {
		what string
		b    []byte
		lba  uint64
		sync bool
	}{
		{"backup entries", t.entries, backupEntries, false},
		{"backup header", t.headerFor(last, 1, backupEntries), last, true},
		{"primary entries", t.entries, primaryEntries, false},
		{"primary header", t.headerFor(1, last, primaryEntries), 1, true},
	}
	for _, s := range steps {
		if _, err := w.WriteAt(s.b, int64(s.lba)*ss); err != nil {
			return fmt.Errorf("gpt: write %s at LBA %d: %w", s.what, s.lba, err)
		}
		if s.sync {
			if err := w.Sync(); err != nil {
				return fmt.Errorf("gpt: sync after %s: %w", s.what, err)
			}
		}
	}
	t.header = t.headerFor(1, last, primaryEntries)
	t.FromBackup = false
	return nil
}

// FixProtectiveMBR sets the size of the protective MBR's 0xEE partition to the disk's (UEFI
// 2.10, table 5.4: SizeInLBA is the disk's size minus one, or 0xFFFFFFFF when that does not fit).
// The kernel reads the GPT whatever this says; firmware may not.
func FixProtectiveMBR(rw interface {
	io.ReaderAt
	WriterSyncer
}, diskSize, sectorSize int64) error {
	mbr := make([]byte, 512)
	if _, err := rw.ReadAt(mbr, 0); err != nil {
		return fmt.Errorf("gpt: read MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return errors.New("gpt: no MBR signature")
	}
	// Partition records at 446, 16 bytes each: OS type at +4, StartingLBA at +8, SizeInLBA at +12.
	for i := 0; i < 4; i++ {
		p := mbr[446+16*i:]
		if p[4] != protectiveType {
			continue
		}
		size := uint64(diskSize/sectorSize) - 1
		if size > 0xFFFFFFFF {
			size = 0xFFFFFFFF
		}
		if uint64(le32(p[12:])) == size {
			return nil
		}
		binary.LittleEndian.PutUint32(p[12:], uint32(size))
		if _, err := rw.WriteAt(mbr, 0); err != nil {
			return fmt.Errorf("gpt: write MBR: %w", err)
		}
		return rw.Sync()
	}
	return errors.New("gpt: no protective (0xEE) partition in the MBR")
}
