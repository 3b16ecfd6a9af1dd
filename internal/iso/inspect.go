package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Report describes a written image.
type Report struct {
	VolumeID    string
	Size        int64 // bytes of the file
	BootEntries []BootEntry
	Partitions  []Partition // from the MBR, empty when there is none
	Files       []FileInfo  // sorted by path, directories included, root excluded
}

// BootEntry is one El Torito boot entry (El Torito 1.0, 2.2 "Initial/Default Entry" and 2.4
// "Section Entry").
type BootEntry struct {
	Platform  string // "BIOS", "UEFI", or "0x.." for others
	Bootable  bool   // boot indicator 0x88
	Emulation string // "none", "1.2M", "1.44M", "2.88M", "hdd"
	LoadRBA   uint32 // first 2048-byte block of the image
	Sectors   uint16 // 512-byte sectors the firmware loads (0: the whole file, for UEFI)
	File      string // path of the file that starts at LoadRBA, if any
}

// Partition is a primary MBR partition entry.
type Partition struct {
	Index    int // 1-4
	Bootable bool
	Type     byte
	Start    uint32 // 512-byte sectors
	Sectors  uint32
}

// FileInfo is one entry of the ISO 9660 side, as Rock Ridge records it.
type FileInfo struct {
	Path   string
	Size   int64
	Mode   fs.FileMode
	Target string // symlink target
	LBA    uint32 // first block of the extent
}

// ErrNoBootRecord means the image has no El Torito boot record volume descriptor at sector 17.
var ErrNoBootRecord = errors.New("no El Torito boot record")

// Inspect reads an image written by Write (or any ISO 9660 image with Rock Ridge).
func Inspect(isoPath string) (*Report, error) {
	f, err := os.Open(isoPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	r := &Report{Size: st.Size()}

	pvd := make([]byte, BlockSize)
	if _, err := f.ReadAt(pvd, 16*BlockSize); err != nil {
		return nil, fmt.Errorf("%s: reading the PVD: %w", isoPath, err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return nil, fmt.Errorf("%s: not an ISO 9660 image", isoPath)
	}
	r.VolumeID = strings.TrimRight(string(pvd[40:72]), " \x00") // ECMA-119 8.4.6

	fsys, err := iso9660.Read(file.New(f, true), 0, 0, BlockSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	if err := walkFiles(fsys, ".", &r.Files); err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	sort.Slice(r.Files, func(i, j int) bool { return r.Files[i].Path < r.Files[j].Path })

	entries, err := bootCatalog(f)
	if err != nil && !errors.Is(err, ErrNoBootRecord) {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	for i := range entries {
		for _, fi := range r.Files {
			if fi.Mode.IsRegular() && fi.Size > 0 && fi.LBA == entries[i].LoadRBA {
				entries[i].File = fi.Path
			}
		}
	}
	r.BootEntries = entries

	mbr := make([]byte, 512)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("%s: reading the MBR: %w", isoPath, err)
	}
	r.Partitions = partitions(mbr)
	return r, nil
}

func walkFiles(fsys *iso9660.FileSystem, dir string, out *[]FileInfo) error {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range entries {
		info, err := de.Info()
		if err != nil {
			return err
		}
		if de.Name() == "" || de.Name() == "." || de.Name() == ".." || strings.Contains(de.Name(), "/") {
			return fmt.Errorf("directory %s: entry with bad name %q", dir, de.Name())
		}
		p := path.Join(dir, de.Name())
		fi := FileInfo{Path: p, Size: info.Size(), Mode: info.Mode()}
		if st, ok := info.Sys().(*iso9660.StatT); ok {
			fi.LBA = st.Location
			fi.Target = st.LinkTarget
		}
		if fi.Mode.IsDir() {
			fi.Size = 0
		}
		if fi.Mode&fs.ModeSymlink != 0 {
			fi.Size = int64(len(fi.Target))
		}
		*out = append(*out, fi)
		if info.IsDir() {
			if err := walkFiles(fsys, p, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// bootCatalog reads the El Torito boot catalog that the boot record at sector 17 points to.
func bootCatalog(f *os.File) ([]BootEntry, error) {
	brvd := make([]byte, BlockSize)
	if _, err := f.ReadAt(brvd, 17*BlockSize); err != nil {
		return nil, err
	}
	// El Torito 2.0: type 0, "CD001", version 1, "EL TORITO SPECIFICATION", catalog LBA at 0x47.
	if brvd[0] != 0 || string(brvd[1:6]) != "CD001" || !strings.HasPrefix(string(brvd[7:0x27]), "EL TORITO SPECIFICATION") {
		return nil, ErrNoBootRecord
	}
	lba := binary.LittleEndian.Uint32(brvd[0x47:])
	cat := make([]byte, BlockSize)
	if _, err := f.ReadAt(cat, int64(lba)*BlockSize); err != nil {
		return nil, fmt.Errorf("reading the boot catalog at %d: %w", lba, err)
	}
	// Validation entry (2.1): header 1, platform, key bytes 0x55 0xAA, words summing to 0.
	if cat[0] != 1 || cat[0x1E] != 0x55 || cat[0x1F] != 0xAA {
		return nil, fmt.Errorf("boot catalog at %d: bad validation entry", lba)
	}
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	if sum != 0 {
		return nil, fmt.Errorf("boot catalog at %d: validation checksum %#x", lba, sum)
	}
	out := []BootEntry{entry(cat[32:64], cat[1])}
	// Section headers (2.3): 0x90 more follow, 0x91 last; platform at 1, entry count at 2.
	for off := 64; off+32 <= len(cat); {
		h := cat[off : off+32]
		if h[0] != 0x90 && h[0] != 0x91 {
			break
		}
		n := int(binary.LittleEndian.Uint16(h[2:]))
		off += 32
		for i := 0; i < n && off+32 <= len(cat); off += 32 {
			if cat[off] == 0x44 { // section entry extension (2.5), not an entry
				continue
			}
			out = append(out, entry(cat[off:off+32], h[1]))
			i++
		}
		if h[0] == 0x91 {
			break
		}
	}
	return out, nil
}

func entry(e []byte, platform byte) BootEntry {
	return BootEntry{
		Platform:  platformName(platform),
		Bootable:  e[0] == 0x88,
		Emulation: emulationName(e[1] & 0x0F),
		Sectors:   binary.LittleEndian.Uint16(e[6:]),
		LoadRBA:   binary.LittleEndian.Uint32(e[8:]),
	}
}

func platformName(p byte) string {
	switch p {
	case 0x00:
		return "BIOS"
	case 0xEF:
		return "UEFI"
	}
	return fmt.Sprintf("%#02x", p)
}

func emulationName(m byte) string {
	switch m {
	case 0:
		return "none"
	case 1:
		return "1.2M"
	case 2:
		return "1.44M"
	case 3:
		return "2.88M"
	case 4:
		return "hdd"
	}
	return fmt.Sprintf("%#x", m)
}

// partitions reads the four primary entries of an MBR (16 bytes each from 446, 0x55AA at 510).
func partitions(mbr []byte) []Partition {
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return nil
	}
	var out []Partition
	for i := range 4 {
		e := mbr[446+16*i : 446+16*(i+1)]
		start, n := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		if n == 0 {
			continue
		}
		out = append(out, Partition{Index: i + 1, Bootable: e[0] == 0x80, Type: e[4], Start: start, Sectors: n})
	}
	return out
}

// ReadFile returns the content of the file at p (slash-separated, relative to the root) in the
// image at isoPath.
func ReadFile(isoPath, p string) ([]byte, error) {
	f, err := os.Open(isoPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fsys, err := iso9660.Read(file.New(f, true), 0, 0, BlockSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	b, err := fsys.ReadFile(strings.TrimPrefix(path.Clean("/"+p), "/"))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", isoPath, p, err)
	}
	return b, nil
}
