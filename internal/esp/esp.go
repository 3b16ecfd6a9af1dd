// Package esp builds the EFI System Partition image that the ISO's UEFI El Torito entry points at:
// a FAT16 file system (a 13 MB FAT32 image failed in OVMF, FAT16 works; see FACTS.md) written with
// go-diskfs, entirely in memory, byte-identical for identical input.
package esp

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/diskfs/go-diskfs/backend"
	"github.com/diskfs/go-diskfs/filesystem/fat16"

	"github.com/genai-os/genai-build/internal/fstree"
)

const (
	sectorSize = 512
	// isoBlock: the image is stored in the ISO, so its size is a whole number of 2048-byte blocks.
	isoBlock = 2048
	// The fewest clusters a FAT16 volume has (Microsoft FAT specification, "FAT type determination").
	minClusters = 4085
	// Fixed by go-diskfs' fat16.Create (filesystem/fat16/fat16.go): 4 reserved sectors, 512 root
	// entries, 2 FATs.
	reservedSectors = 4
	rootEntries     = 512
	fatCount        = 2
	// maxSize is go-diskfs' fat12.Fat16MaxSize.
	maxSize = 2 << 30

	// Label is the FAT volume label.
	Label = "EFIBOOT"
)

// sectorsPerCluster mirrors fat16.Create's choice by volume size.
func sectorsPerCluster(size int64) int64 {
	const mb = 1 << 20
	switch {
	case size <= 32*mb:
		return 2
	case size <= 128*mb:
		return 4
	case size <= 256*mb:
		return 8
	case size <= 512*mb:
		return 16
	case size <= 1024*mb:
		return 32
	}
	return 64
}

// clusters mirrors fat16.Create's arithmetic: the number of data clusters of a volume of size bytes.
func clusters(size int64) int64 {
	spc := sectorsPerCluster(size)
	total := size / sectorSize
	rootSectors := int64(rootEntries*32+sectorSize-1) / sectorSize
	data := total - reservedSectors - rootSectors
	spf := (data/spc*2 + sectorSize - 1) / sectorSize
	data = total - reservedSectors - rootSectors - fatCount*spf
	return data / spc
}

// Size returns the image size Build uses for files: room for every file and directory in whole
// clusters plus 10% and 64 clusters of slack, at least the FAT16 minimum (4085 clusters), in whole
// 2048-byte blocks.
func Size(files *fstree.Tree) (int64, error) {
	size := int64(isoBlock)
	for clusters(size) < minClusters {
		size += isoBlock
	}
	children := map[string]int64{}
	for _, e := range files.Entries() {
		children[path.Dir(e.Path)]++
	}
	for range 16 {
		cs := sectorsPerCluster(size) * sectorSize
		need := int64(64)
		for _, e := range files.Entries() {
			switch e.Kind {
			case fstree.File:
				need += (e.Size + cs - 1) / cs
			case fstree.Dir:
				// ".", "..", and per child one short entry and up to 20 long-name slots (255/13).
				need += ((2+21*children[e.Path])*32 + cs - 1) / cs
			}
		}
		need += need / 10
		have := clusters(size)
		if have >= need {
			return size, nil
		}
		size = roundUp(size+(need-have)*cs, isoBlock)
		if size > maxSize {
			return 0, fmt.Errorf("esp: files need %d clusters of %d bytes, more than FAT16 holds", need, cs)
		}
	}
	return 0, errors.New("esp: could not size the image")
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// Build returns a FAT16 image holding the directories and regular files of files (symlinks are
// an error: FAT has none). Every directory entry carries sourceDate (clamped to FAT's 1980 epoch),
// and the volume serial number is derived from the content, so equal input gives equal bytes.
func Build(files *fstree.Tree, sourceDate time.Time) ([]byte, error) {
	if files == nil {
		return nil, errors.New("esp: no files")
	}
	size, err := Size(files)
	if err != nil {
		return nil, err
	}
	return build(files, size, sourceDate)
}

// BuildSized is Build for a partition of a disk: the file system fills size bytes (a whole
// number of 512-byte sectors), which must hold what Size asks for files.
func BuildSized(files *fstree.Tree, size int64, sourceDate time.Time) ([]byte, error) {
	if files == nil {
		return nil, errors.New("esp: no files")
	}
	need, err := Size(files)
	if err != nil {
		return nil, err
	}
	switch {
	case size%sectorSize != 0:
		return nil, fmt.Errorf("esp: size %d is not a whole number of %d-byte sectors", size, sectorSize)
	case size > maxSize:
		return nil, fmt.Errorf("esp: size %d is more than FAT16 holds (%d)", size, int64(maxSize))
	case size < need:
		return nil, fmt.Errorf("esp: the files need %d bytes, the partition has %d", need, size)
	}
	return build(files, size, sourceDate)
}

func build(files *fstree.Tree, size int64, sourceDate time.Time) ([]byte, error) {
	img := &memDisk{b: make([]byte, size)}
	// reproducible=true: go-diskfs leaves the volume serial 0 instead of deriving it from time.Now().
	fsys, err := fat16.Create(img, size, 0, sectorSize, Label, true)
	if err != nil {
		return nil, fmt.Errorf("esp: creating FAT16 of %d bytes: %w", size, err)
	}
	for _, e := range files.Entries() {
		p := "/" + e.Path
		switch e.Kind {
		case fstree.Dir:
			if err := fsys.Mkdir(p); err != nil {
				return nil, fmt.Errorf("esp: mkdir %s: %w", e.Path, err)
			}
		case fstree.File:
			if err := copyFile(fsys, p, e); err != nil {
				return nil, fmt.Errorf("esp: %s: %w", e.Path, err)
			}
		default:
			return nil, fmt.Errorf("esp: %s: FAT cannot hold a %s", e.Path, e.Kind)
		}
	}
	// go-diskfs stamps every directory entry it creates, including "." and ".." and the volume
	// label, with util/timestamp.GetTime() (time.Now() or $SOURCE_DATE_EPOCH;
	// filesystem/fat12/directory.go:121 and :212), and offers no way to set "." and "..". So we
	// rewrite all of them in place.
	if err := stampDirectories(img.b, sourceDate); err != nil {
		return nil, fmt.Errorf("esp: %w", err)
	}
	setSerial(img.b)
	return img.b, nil
}

func copyFile(fsys *fat16.FileSystem, p string, e *fstree.Entry) error {
	r, err := e.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := fsys.OpenFile(p, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && e.Source != "" && n != e.Size {
		err = fmt.Errorf("size changed: %d bytes, expected %d", n, e.Size)
	}
	return err
}

// setSerial writes a serial number derived from the image into the FAT16 extended BPB
// (Volume ID at offset 0x27, Microsoft FAT specification "BS_VolID").
func setSerial(b []byte) {
	binary.LittleEndian.PutUint32(b[0x27:0x2B], 0)
	sum := sha256.Sum256(b)
	binary.LittleEndian.PutUint32(b[0x27:0x2B], binary.LittleEndian.Uint32(sum[:4]))
}

// bpb is the part of the FAT16 boot sector needed to walk directories (Microsoft FAT
// specification, "BPB structure common to FAT12, FAT16 and FAT32").
type bpb struct {
	bytesPerSector, sectorsPerCluster, reserved, fats, rootEntries, sectorsPerFat int64
}

func readBPB(b []byte) (bpb, error) {
	if len(b) < sectorSize || b[510] != 0x55 || b[511] != 0xAA {
		return bpb{}, errors.New("no FAT boot sector")
	}
	p := bpb{
		bytesPerSector:    int64(binary.LittleEndian.Uint16(b[11:])),
		sectorsPerCluster: int64(b[13]),
		reserved:          int64(binary.LittleEndian.Uint16(b[14:])),
		fats:              int64(b[16]),
		rootEntries:       int64(binary.LittleEndian.Uint16(b[17:])),
		sectorsPerFat:     int64(binary.LittleEndian.Uint16(b[22:])),
	}
	if p.bytesPerSector != sectorSize || p.sectorsPerCluster == 0 || p.rootEntries == 0 || p.sectorsPerFat == 0 {
		return bpb{}, fmt.Errorf("not a FAT16 boot sector: %+v", p)
	}
	return p, nil
}

// fatDateTime encodes t as FAT date and time (Microsoft FAT specification, "Date and time formats").
func fatDateTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	tm = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, tm
}

// stampDirectories sets the create, access and write times of every short directory entry.
func stampDirectories(b []byte, t time.Time) error {
	p, err := readBPB(b)
	if err != nil {
		return err
	}
	date, tm := fatDateTime(t)
	fatOff := p.reserved * p.bytesPerSector
	rootOff := fatOff + p.fats*p.sectorsPerFat*p.bytesPerSector
	dataOff := rootOff + roundUp(p.rootEntries*32, p.bytesPerSector)
	clusterSize := p.sectorsPerCluster * p.bytesPerSector

	var walk func(regions [][2]int64, depth int) error
	chain := func(first int64) ([][2]int64, error) {
		var out [][2]int64
		for c := first; c >= 2 && c < 0xFFF8; c = int64(binary.LittleEndian.Uint16(b[fatOff+2*c:])) {
			off := dataOff + (c-2)*clusterSize
			if off+clusterSize > int64(len(b)) || len(out) > 65536 {
				return nil, fmt.Errorf("bad cluster chain at %d", c)
			}
			out = append(out, [2]int64{off, off + clusterSize})
		}
		return out, nil
	}
	walk = func(regions [][2]int64, depth int) error {
		if depth > 64 {
			return errors.New("directories nested too deep")
		}
		for _, r := range regions {
			for off := r[0]; off+32 <= r[1]; off += 32 {
				e := b[off : off+32]
				switch {
				case e[0] == 0x00: // end of directory
					return nil
				case e[0] == 0xE5, e[11]&0x3F == 0x0F: // deleted, long-name slot
					continue
				}
				e[13] = 0 // creation time, tenths of a second
				binary.LittleEndian.PutUint16(e[14:], tm)
				binary.LittleEndian.PutUint16(e[16:], date)
				binary.LittleEndian.PutUint16(e[18:], date)
				binary.LittleEndian.PutUint16(e[22:], tm)
				binary.LittleEndian.PutUint16(e[24:], date)
				if e[11]&0x10 != 0 && e[0] != '.' {
					sub, err := chain(int64(binary.LittleEndian.Uint16(e[26:])))
					if err != nil {
						return err
					}
					if err := walk(sub, depth+1); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	return walk([][2]int64{{rootOff, dataOff}}, 0)
}

// memDisk is a fixed-size in-memory backend.Storage for go-diskfs.
type memDisk struct {
	b   []byte
	off int64
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memDisk) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, fmt.Errorf("write of %d bytes at %d beyond the %d-byte image", len(p), off, len(m.b))
	}
	return copy(m.b[off:], p), nil
}

func (m *memDisk) Read(p []byte) (int, error) {
	n, err := m.ReadAt(p, m.off)
	m.off += int64(n)
	return n, err
}

func (m *memDisk) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += m.off
	case io.SeekEnd:
		offset += int64(len(m.b))
	}
	if offset < 0 {
		return 0, errors.New("negative seek")
	}
	m.off = offset
	return offset, nil
}

func (m *memDisk) Close() error                            { return nil }
func (m *memDisk) Stat() (fs.FileInfo, error)              { return memInfo(len(m.b)), nil }
func (m *memDisk) Path() string                            { return "" }
func (m *memDisk) Writable() (backend.WritableFile, error) { return m, nil }
func (m *memDisk) Sys() (*os.File, error)                  { return nil, errors.New("in-memory image has no file") }

type memInfo int64

func (i memInfo) Name() string       { return "esp.img" }
func (i memInfo) Size() int64        { return int64(i) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
