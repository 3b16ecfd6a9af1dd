package squashfs

import (
	"math"

	"github.com/genai-os/genai-build/internal/fstree"
)

// writeTables writes, after the data, the inode table, the directory table, the fragment, id
// and xattr tables in the order super.c checks them (each index must end exactly where the next
// table starts, the xattr index at bytes_used), then the padding and the superblock.
func (b *builder) writeTables() (int64, error) {
	inodes, dirs := newMeta(b.enc), newMeta(b.enc)
	for _, in := range b.order {
		if in.dir != nil {
			if err := b.writeDir(inodes, dirs, in); err != nil {
				return 0, err
			}
			continue
		}
		in.ref = inodes.ref()
		inodes.write(b.inodeBytes(in))
	}
	sb := superblock{
		inodes:    uint32(len(b.order)),
		fragments: uint32(len(b.frags)),
		flags:     flagAlwaysFrag | flagDuplicates,
		ids:       uint16(len(b.ids)),
		root:      b.root.ino.ref,
		blockSize: uint64(b.opts.BlockSize),
	}
	sb.mkfsTime = b.root.ino.mtime // the root has no MTime of its own: SourceDate
	sb.inodeTable = uint64(b.out.pos)
	if err := b.out.write(inodes.bytes()); err != nil {
		return 0, err
	}
	sb.dirTable = uint64(b.out.pos)
	if err := b.out.write(dirs.bytes()); err != nil {
		return 0, err
	}
	// Fragment table: struct squashfs_fragment_entry {start u64, size u32, unused u32}.
	frags := newMeta(b.enc)
	for _, f := range b.frags {
		var e [fragmentEntry]byte
		le.PutUint64(e[:], f.start)
		le.PutUint32(e[8:], f.size)
		frags.write(e[:])
	}
	var err error
	if sb.fragmentTable, err = b.indexed(frags); err != nil {
		return 0, err
	}
	ids := newMeta(b.enc)
	for _, id := range b.ids {
		ids.write(le.AppendUint32(nil, id))
	}
	if sb.idTable, err = b.indexed(ids); err != nil {
		return 0, err
	}
	sb.xattrTable = invalidBlock
	if len(b.xattrs) > 0 {
		if sb.xattrTable, err = b.writeXattrs(); err != nil {
			return 0, err
		}
	}
	sb.bytesUsed = uint64(b.out.pos)
	if pad := (imagePadding - b.out.pos%imagePadding) % imagePadding; pad > 0 {
		if err := b.out.write(make([]byte, pad)); err != nil {
			return 0, err
		}
	}
	end := b.out.pos
	b.out.pos = 0
	if err := b.out.write(sb.bytes()); err != nil {
		return 0, err
	}
	return end, nil
}

// indexed writes a table's metadata blocks, then the u64 image offsets of those blocks, and
// returns where that index starts: the layout of the fragment, id and xattr id tables
// (format.adoc "Fragment Table", "ID Table", "Xattr Table").
func (b *builder) indexed(m *metaWriter) (uint64, error) {
	start := uint64(b.out.pos)
	if err := b.out.write(m.bytes()); err != nil {
		return 0, err
	}
	index := make([]byte, 0, 8*len(m.starts))
	for _, s := range m.starts {
		index = le.AppendUint64(index, start+s)
	}
	at := uint64(b.out.pos)
	return at, b.out.write(index)
}

// writeXattrs writes the key/value pairs, the xattr id table (struct squashfs_xattr_id: a
// reference to the pairs, their count and size) and its header (struct squashfs_xattr_id_table:
// where the pairs start, how many ids) followed by the id table's block index.
func (b *builder) writeXattrs() (uint64, error) {
	kv := newMeta(b.enc)
	ids := newMeta(b.enc)
	for _, set := range b.xattrs {
		var e [xattrIDEntry]byte
		le.PutUint64(e[:], kv.ref())
		le.PutUint32(e[8:], uint32(pairCount(set)))
		le.PutUint32(e[12:], uint32(len(set)))
		ids.write(e[:])
		kv.write(set)
	}
	kvStart := uint64(b.out.pos)
	if err := b.out.write(kv.bytes()); err != nil {
		return 0, err
	}
	idStart := uint64(b.out.pos)
	if err := b.out.write(ids.bytes()); err != nil {
		return 0, err
	}
	header := uint64(b.out.pos)
	h := le.AppendUint64(nil, kvStart)
	h = le.AppendUint32(h, uint32(len(b.xattrs)))
	h = le.AppendUint32(h, 0)
	for _, s := range ids.starts {
		h = le.AppendUint64(h, idStart+s)
	}
	return header, b.out.write(h)
}

func pairCount(kv []byte) int {
	n := 0
	for len(kv) > 0 {
		name := int(le.Uint16(kv[2:]))
		kv = kv[4+name:]
		kv = kv[4+int(le.Uint32(kv)):]
		n++
	}
	return n
}

// header is the part every inode starts with (struct squashfs_base_inode).
func (b *builder) header(in *inode, typ uint16) []byte {
	h := make([]byte, 0, 64)
	h = le.AppendUint16(h, typ)
	h = le.AppendUint16(h, uint16(in.e.PermBits()))
	h = le.AppendUint16(h, in.uid)
	h = le.AppendUint16(h, in.gid)
	h = le.AppendUint32(h, in.mtime)
	return le.AppendUint32(h, in.num)
}

func basicType(k fstree.Kind) uint16 {
	switch k {
	case fstree.Dir:
		return typeDir
	case fstree.File:
		return typeFile
	case fstree.Symlink:
		return typeSymlink
	case fstree.BlockDev:
		return typeBlockDev
	case fstree.CharDev:
		return typeCharDev
	case fstree.FIFO:
		return typeFIFO
	}
	return typeSocket
}

// inodeBytes encodes a non-directory inode, extended only when a basic one cannot say it.
func (b *builder) inodeBytes(in *inode) []byte {
	e := in.e
	typ := basicType(e.Kind)
	ext := in.xattr != noXattr
	switch e.Kind {
	case fstree.File:
		d := in.data
		// struct squashfs_reg_inode, or squashfs_lreg_inode past 4 GiB, with links, xattrs or
		// sparse blocks (mksquashfs' rule).
		if ext || in.nlink > 1 || d.sparse > 0 || d.start > math.MaxUint32 || e.Size > math.MaxUint32 {
			h := b.header(in, typ+extended)
			h = le.AppendUint64(h, d.start)
			h = le.AppendUint64(h, uint64(e.Size))
			h = le.AppendUint64(h, d.sparse)
			h = le.AppendUint32(h, in.nlink)
			h = le.AppendUint32(h, d.frag)
			h = le.AppendUint32(h, d.fragOff)
			h = le.AppendUint32(h, in.xattr)
			return appendSizes(h, d.sizes)
		}
		h := b.header(in, typ)
		h = le.AppendUint32(h, uint32(d.start))
		h = le.AppendUint32(h, d.frag)
		h = le.AppendUint32(h, d.fragOff)
		h = le.AppendUint32(h, uint32(e.Size))
		return appendSizes(h, d.sizes)
	case fstree.Symlink:
		// struct squashfs_symlink_inode; the extended one adds an xattr index after the target.
		h := b.header(in, extendedIf(typ, ext))
		h = le.AppendUint32(h, in.nlink)
		h = le.AppendUint32(h, uint32(len(e.Target)))
		h = append(h, e.Target...)
		if ext {
			h = le.AppendUint32(h, in.xattr)
		}
		return h
	case fstree.CharDev, fstree.BlockDev:
		// struct squashfs_dev_inode / squashfs_ldev_inode; rdev as the kernel's new_encode_dev.
		h := b.header(in, extendedIf(typ, ext))
		h = le.AppendUint32(h, in.nlink)
		h = le.AppendUint32(h, e.Minor&0xff|e.Major<<8|(e.Minor&^0xff)<<12)
		if ext {
			h = le.AppendUint32(h, in.xattr)
		}
		return h
	}
	// FIFO, socket: struct squashfs_ipc_inode / squashfs_lipc_inode.
	h := b.header(in, extendedIf(typ, ext))
	h = le.AppendUint32(h, in.nlink)
	if ext {
		h = le.AppendUint32(h, in.xattr)
	}
	return h
}

func appendSizes(h []byte, sizes []uint32) []byte {
	for _, s := range sizes {
		h = le.AppendUint32(h, s)
	}
	return h
}

// writeDir writes a directory's listing into the directory table, then its inode.
//
// A listing is runs of entries behind a header (struct squashfs_dir_header: count-1, the inode
// table block all the run's inodes are in, a base inode number); each entry (struct
// squashfs_dir_entry) holds its inode's offset in that block, its number as an int16 delta from
// the base, its basic type and its name size-1. A run ends at 256 entries (SQUASHFS_DIR_COUNT),
// at a change of inode block, or when the delta would not fit.
func (b *builder) writeDir(inodes, dirs *metaWriter, in *inode) error {
	start := dirs.ref()
	size := 0
	kids := in.dir.children
	for i := 0; i < len(kids); {
		block, base := uint32(kids[i].ino.ref>>16), kids[i].ino.num
		j := i
		for j < len(kids) && j-i < dirCount {
			c := kids[j].ino
			delta := int64(c.num) - int64(base)
			if uint32(c.ref>>16) != block || delta < math.MinInt16 || delta > math.MaxInt16 {
				break
			}
			j++
		}
		h := le.AppendUint32(nil, uint32(j-i-1))
		h = le.AppendUint32(h, block)
		h = le.AppendUint32(h, base)
		for _, k := range kids[i:j] {
			h = le.AppendUint16(h, uint16(k.ino.ref&0xffff))
			h = le.AppendUint16(h, uint16(int16(int64(k.ino.num)-int64(base))))
			h = le.AppendUint16(h, basicType(k.ino.e.Kind))
			h = le.AppendUint16(h, uint16(len(k.name)-1))
			h = append(h, k.name...)
		}
		dirs.write(h)
		size += len(h)
		i = j
	}
	size += 3                          // format.adoc: a directory's file_size counts 3 bytes more than its listing ("." and "..")
	parent := uint32(len(b.order) + 1) // the root's parent, as mksquashfs writes it
	if p := in.dir.parent; p != nil {
		parent = p.ino.num
	}
	in.ref = inodes.ref()
	if size > math.MaxUint16 || in.xattr != noXattr {
		// struct squashfs_ldir_inode, with no directory index (the kernel scans without one).
		h := b.header(in, typeDir+extended)
		h = le.AppendUint32(h, in.nlink)
		h = le.AppendUint32(h, uint32(size))
		h = le.AppendUint32(h, uint32(start>>16))
		h = le.AppendUint32(h, parent)
		h = le.AppendUint16(h, 0)
		h = le.AppendUint16(h, uint16(start&0xffff))
		h = le.AppendUint32(h, in.xattr)
		inodes.write(h)
		return nil
	}
	// struct squashfs_dir_inode.
	h := b.header(in, typeDir)
	h = le.AppendUint32(h, uint32(start>>16))
	h = le.AppendUint32(h, in.nlink)
	h = le.AppendUint16(h, uint16(size))
	h = le.AppendUint16(h, uint16(start&0xffff))
	h = le.AppendUint32(h, parent)
	inodes.write(h)
	return nil
}

// extendedIf returns the extended type of typ when x holds.
func extendedIf(typ uint16, x bool) uint16 {
	if x {
		return typ + extended
	}
	return typ
}
