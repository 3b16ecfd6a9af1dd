package iso

import (
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/fstree"
)

// node is where one file or directory ended up in the image.
type node struct {
	LBA  uint32 // first block of the extent
	Size uint32 // bytes
	Dir  bool
}

// fixup makes the image a function of the Spec alone. go-diskfs takes metadata from the work
// directory and the clock, so after Finalize we rewrite, in place and without moving anything:
//   - the PVD dates: time.Now() (filesystem/iso9660/finalize.go:969);
//   - every directory record's date and Rock Ridge TF stamps: the work directory's mtime, atime and
//     ctime (finalize.go:110-131), and time.Now() for the boot catalog (finalize.go:657);
//   - Rock Ridge PX mode, links, uid and gid: lstat of the work directory, i.e. the builder's own
//     uid and umask (finalize.go:122, statt_others.go); the catalog gets mode 0.
//
// It returns where every path landed.
func fixup(f *os.File, spec *Spec) (map[string]node, error) {
	pvd := make([]byte, BlockSize)
	if _, err := f.ReadAt(pvd, 16*BlockSize); err != nil {
		return nil, fmt.Errorf("reading the PVD: %w", err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return nil, fmt.Errorf("sector 16 is not a primary volume descriptor")
	}
	// ECMA-119 8.4.26-8.4.29: creation, modification, expiration, effective (17-byte dec-datetime).
	copy(pvd[813:], decDate(spec.SourceDate))
	copy(pvd[830:], decDate(spec.SourceDate))
	copy(pvd[847:], decDate(time.Time{})) // "not specified"; go-diskfs expires the volume at once
	copy(pvd[864:], decDate(spec.SourceDate))
	// ECMA-119 8.4.18: the root directory record, 34 bytes at 156; its date at 18 (9.1.5).
	root := pvd[156 : 156+34]
	copy(root[18:25], recDate(spec.SourceDate))
	if _, err := f.WriteAt(pvd, 16*BlockSize); err != nil {
		return nil, err
	}
	w := walker{f: f, spec: spec, nodes: map[string]node{}, seen: map[uint32]bool{}, subdirs: subdirCounts(spec.Files)}
	rootLBA, rootSize := binary.LittleEndian.Uint32(root[2:]), binary.LittleEndian.Uint32(root[10:])
	w.nodes["."] = node{LBA: rootLBA, Size: rootSize, Dir: true}
	if err := w.dir(".", ".", rootLBA, rootSize, 0); err != nil {
		return nil, err
	}
	if w.renamed {
		if err := fixPathTables(f, pvd); err != nil {
			return nil, err
		}
	}
	return w.nodes, nil
}

func subdirCounts(t *fstree.Tree) map[string]uint32 {
	n := map[string]uint32{}
	for _, e := range t.Entries() {
		if e.Kind == fstree.Dir {
			n[path.Dir(e.Path)]++
		}
	}
	return n
}

type walker struct {
	f       *os.File
	spec    *Spec
	nodes   map[string]node
	seen    map[uint32]bool
	subdirs map[string]uint32
	ce      []ceArea // continuation areas read for the current directory, written back with it
	renamed bool     // an empty directory identifier was replaced (see fixPathTables)
}

// emptyDirName replaces the empty identifiers go-diskfs writes.
const emptyDirName = '0'

// dir patches the records of the directory at p (whose parent is parent) and descends.
func (w *walker) dir(p, parent string, lba, size uint32, depth int) error {
	if depth > 64 || w.seen[lba] {
		return fmt.Errorf("directory %s: loop or too deep", p)
	}
	w.seen[lba] = true
	buf := make([]byte, size)
	if _, err := w.f.ReadAt(buf, int64(lba)*BlockSize); err != nil {
		return fmt.Errorf("reading directory %s: %w", p, err)
	}
	type child struct {
		p         string
		lba, size uint32
	}
	var children []child
	for off := 0; off < len(buf); {
		n := int(buf[off])
		if n == 0 { // records do not cross blocks (ECMA-119 6.8.1.1): skip to the next one
			off = (off/BlockSize + 1) * BlockSize
			continue
		}
		if n < 34 || off+n > len(buf) {
			return fmt.Errorf("directory %s: bad record at %d", p, off)
		}
		rec := buf[off : off+n]
		off += n
		// ECMA-119 9.1: extent at 2, data length at 10, date at 18, flags at 25, name length 32.
		nameLen := int(rec[32])
		if 33+nameLen > len(rec) {
			return fmt.Errorf("directory %s: bad name length", p)
		}
		if nameLen == 0 {
			// go-diskfs writes an empty identifier for a directory whose name starts with a dot
			// (".disk": calculateShortnameExtension gives "", finalize.go:1386), which ECMA-119
			// 9.1.10 forbids and its own reader turns into "". The byte after the name is the
			// padding byte (9.1.12), so a one-character name fits without moving the system use
			// area; "0" sorts before letters, as "" did.
			rec[32], rec[33] = 1, emptyDirName
			nameLen = 1
			w.renamed = true
		}
		isoName := rec[33 : 33+nameLen]
		isDir := rec[25]&2 != 0
		var full string
		switch {
		case nameLen == 1 && isoName[0] == 0:
			full = p
		case nameLen == 1 && isoName[0] == 1:
			full = parent
		}
		copy(rec[18:25], recDate(w.spec.SourceDate))
		// System use area (SUSP 4, after the name and its padding byte).
		su := 33 + nameLen
		if nameLen%2 == 0 {
			su++
		}
		var rrName string
		var px []byte
		err := w.susp(rec[min(su, len(rec)):], func(sig string, e []byte) {
			switch sig {
			case "NM": // RRIP 4.1.4: flags, then part of the name
				if len(e) > 5 && e[4]&0x06 == 0 {
					rrName += string(e[5:])
				}
			case "PX":
				px = e
			case "TF":
				stampTF(e, w.spec.SourceDate)
			}
		})
		if err != nil {
			return fmt.Errorf("directory %s: %w", p, err)
		}
		if full == "" {
			name := rrName
			if name == "" {
				name = strings.ToLower(strings.TrimSuffix(string(isoName), ";1"))
			}
			if p == "." {
				full = name
			} else {
				full = p + "/" + name
			}
			w.nodes[full] = node{LBA: binary.LittleEndian.Uint32(rec[2:]), Size: binary.LittleEndian.Uint32(rec[10:]), Dir: isDir}
			if isDir {
				children = append(children, child{full, binary.LittleEndian.Uint32(rec[2:]), binary.LittleEndian.Uint32(rec[10:])})
			}
		}
		if px != nil {
			w.patchPX(px, full, isDir)
		}
	}
	if _, err := w.f.WriteAt(buf, int64(lba)*BlockSize); err != nil {
		return err
	}
	if err := w.flushCE(); err != nil {
		return err
	}
	for _, c := range children {
		if err := w.dir(c.p, p, c.lba, c.size, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// patchPX sets the POSIX attributes of the entry at p from the tree (RRIP 4.1.1: mode, links,
// uid, gid, each both-endian 32-bit, at 4, 12, 20 and 28).
func (w *walker) patchPX(px []byte, p string, isDir bool) {
	if len(px) < 36 {
		return
	}
	var mode, uid, gid uint32
	links := uint32(1)
	e, ok := w.spec.Files.Get(p)
	switch {
	case p == ".":
		mode = 0o040755
	case ok:
		mode = posixMode(e)
		uid, gid = uint32(e.UID), uint32(e.GID)
	case isDir:
		mode = 0o040755
	default: // the boot catalog, and anything go-diskfs adds on its own
		mode = 0o100444
	}
	if isDir {
		links = 2 + w.subdirs[p]
	}
	both := func(at int, v uint32) {
		binary.LittleEndian.PutUint32(px[at:], v)
		binary.BigEndian.PutUint32(px[at+4:], v)
	}
	both(4, mode)
	both(12, links)
	both(20, uid)
	both(28, gid)
}

// posixMode is st_mode for an entry (POSIX <sys/stat.h> type bits).
func posixMode(e *fstree.Entry) uint32 {
	m := e.PermBits()
	switch e.Kind {
	case fstree.Dir:
		return m | 0o040000
	case fstree.Symlink:
		return 0o120777
	}
	return m | 0o100000
}

// stampTF sets every time in a Rock Ridge TF entry (RRIP 4.1.6): flags at 4, then one 7-byte
// (or, with flag 0x80, 17-byte) stamp per bit set in the low seven bits.
func stampTF(e []byte, t time.Time) {
	if len(e) < 5 {
		return
	}
	long := e[4]&0x80 != 0
	stamp, size := recDate(t), 7
	if long {
		stamp, size = decDate(t), 17
	}
	off := 5
	for bit := 0; bit < 7; bit++ {
		if e[4]&(1<<bit) == 0 {
			continue
		}
		if off+size > len(e) {
			return
		}
		copy(e[off:], stamp)
		off += size
	}
}

// ceArea is a SUSP continuation area and where it lives.
type ceArea struct {
	off int64
	b   []byte
}

// susp walks the SUSP entries of a system use area and of its continuation areas (SUSP 5.1 CE:
// block at 4, offset at 12, length at 20, little-endian halves of both-endian fields).
func (w *walker) susp(area []byte, fn func(sig string, e []byte)) error {
	for hops := 0; area != nil; hops++ {
		if hops > 32 {
			return fmt.Errorf("too many SUSP continuation areas")
		}
		var next []byte
		for i := 0; i+4 <= len(area); {
			l := int(area[i+2])
			if l < 4 || i+l > len(area) {
				break
			}
			e := area[i : i+l]
			sig := string(e[:2])
			if sig == "ST" {
				break
			}
			if sig == "CE" && l >= 28 {
				off := int64(binary.LittleEndian.Uint32(e[4:]))*BlockSize + int64(binary.LittleEndian.Uint32(e[12:]))
				n := binary.LittleEndian.Uint32(e[20:])
				if n > BlockSize {
					return fmt.Errorf("continuation area of %d bytes", n)
				}
				ce := ceArea{off: off, b: make([]byte, n)}
				if _, err := w.f.ReadAt(ce.b, off); err != nil {
					return fmt.Errorf("reading continuation area: %w", err)
				}
				w.ce = append(w.ce, ce)
				next = ce.b
			} else {
				fn(sig, e)
			}
			i += l
		}
		area = next
	}
	return nil
}

func (w *walker) flushCE() error {
	for _, ce := range w.ce {
		if _, err := w.f.WriteAt(ce.b, ce.off); err != nil {
			return err
		}
	}
	w.ce = w.ce[:0]
	return nil
}

// recDate is the 7-byte date of a directory record (ECMA-119 9.1.5), in UTC.
func recDate(t time.Time) []byte {
	t = t.UTC()
	y := t.Year() - 1900
	if y < 0 || y > 255 {
		y = 0
	}
	return []byte{byte(y), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

// decDate is the 17-byte date of a volume descriptor (ECMA-119 8.4.26.1); the zero time is
// "not specified": sixteen '0' digits and a zero offset.
func decDate(t time.Time) []byte {
	if t.IsZero() {
		return append([]byte("0000000000000000"), 0)
	}
	t = t.UTC()
	s := fmt.Sprintf("%04d%02d%02d%02d%02d%02d%02d", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7)
	return append([]byte(s), 0)
}

// fixPathTables rewrites the L and M path tables (ECMA-119 9.4) with the identifiers the
// directory records now carry: an empty one becomes emptyDirName. Each entry grows by two bytes
// (the name and a padding byte), which must fit in the blocks go-diskfs allocated.
func fixPathTables(f *os.File, pvd []byte) error {
	size := binary.LittleEndian.Uint32(pvd[132:])
	lLoc, mLoc := binary.LittleEndian.Uint32(pvd[140:]), binary.BigEndian.Uint32(pvd[148:])
	old := make([]byte, size)
	if _, err := f.ReadAt(old, int64(lLoc)*BlockSize); err != nil {
		return fmt.Errorf("reading the path table: %w", err)
	}
	var l, m []byte
	for i := 0; i+8 <= len(old); {
		n := int(old[i])
		if i+8+n > len(old) {
			return fmt.Errorf("bad path table entry at %d", i)
		}
		name := old[i+8 : i+8+n]
		if n == 0 {
			name = []byte{emptyDirName}
		}
		ext, lba, parent := old[i+1], binary.LittleEndian.Uint32(old[i+2:]), binary.LittleEndian.Uint16(old[i+6:])
		i += 8 + n + n%2
		le := []byte{byte(len(name)), ext, 0, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(le[2:], lba)
		binary.LittleEndian.PutUint16(le[6:], parent)
		be := append([]byte(nil), le...)
		binary.BigEndian.PutUint32(be[2:], lba)
		binary.BigEndian.PutUint16(be[6:], parent)
		pad := make([]byte, len(name)%2)
		l = append(append(append(l, le...), name...), pad...)
		m = append(append(append(m, be...), name...), pad...)
	}
	blocks := func(n int) int { return (n + BlockSize - 1) / BlockSize }
	if blocks(len(l)) > blocks(int(size)) || uint32(blocks(int(size))) > mLoc-lLoc {
		return fmt.Errorf("path table grows from %d to %d bytes, beyond its blocks", size, len(l))
	}
	if _, err := f.WriteAt(l, int64(lLoc)*BlockSize); err != nil {
		return err
	}
	if _, err := f.WriteAt(m, int64(mLoc)*BlockSize); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(pvd[132:], uint32(len(l)))
	binary.BigEndian.PutUint32(pvd[136:], uint32(len(l)))
	_, err := f.WriteAt(pvd, 16*BlockSize)
	return err
}
