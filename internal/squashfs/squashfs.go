// Package squashfs writes an fstree.Tree as a SquashFS 4.0 image compressed with zstd: the
// read-only root image Linux mounts with fs/squashfs. Owners, modes, times, device numbers,
// hard links and xattrs come from the tree, never from the host. The same tree and Options give
// the same bytes. File data streams from the entries' sources through a bounded pool of
// compressing workers, so memory grows with the block size times the workers, not with the tree;
// only the tables (inodes, directories, fragments, ids, xattrs) are built in memory.
//
// The layout follows squashfs-tools-ng doc/format.adoc ("format.adoc" below) and Dr-Emann's
// "SquashFS Binary Format", checked against the kernel's fs/squashfs/squashfs_fs.h and super.c,
// whose sanity checks fix the order of the tables at the end of the image.
//
// Not written: the export table (NFS only) and directory indexes (the kernel then scans a large
// directory's listing from its start on lookup, which is correct, only slower).
package squashfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"runtime"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/genai-os/genai-build/internal/fstree"
)

// On-disk constants, as named in the kernel's fs/squashfs/squashfs_fs.h.
const (
	magic           = 0x73717368     // SQUASHFS_MAGIC, "hsqs" little-endian
	versionMajor    = 4              // SQUASHFS_MAJOR
	versionMinor    = 0              // SQUASHFS_MINOR
	superblockSize  = 96             // struct squashfs_super_block
	metaSize        = 8192           // SQUASHFS_METADATA_SIZE: uncompressed bytes of a metadata block
	metaStored      = 0x8000         // SQUASHFS_COMPRESSED_BIT: metadata block header, stored as is
	dataStored      = 1 << 24        // SQUASHFS_COMPRESSED_BIT_BLOCK: data or fragment block stored as is
	invalidBlock    = math.MaxUint64 // SQUASHFS_INVALID_BLK: an absent table
	noFragment      = math.MaxUint32 // SQUASHFS_INVALID_FRAG
	noXattr         = math.MaxUint32 // SQUASHFS_INVALID_XATTR
	zstdCompression = 6              // ZSTD_COMPRESSION
	dirCount        = 256            // SQUASHFS_DIR_COUNT: most entries under one directory header
	nameLen         = 256            // SQUASHFS_NAME_LEN
	symlinkMax      = 4096           // fs/squashfs/inode.c refuses a symlink longer than PAGE_SIZE
	maxIDs          = 65536          // inodes hold u16 indexes into the id table
	flagAlwaysFrag  = 0x0020         // SQUASHFS_ALWAYS_FRAG: tails of large files are packed too
	flagDuplicates  = 0x0040         // SQUASHFS_DUPLICATES: identical files share their data
	imagePadding    = 4096           // format.adoc: the image is padded to a multiple of 4 KiB
	fragmentEntry   = 16             // struct squashfs_fragment_entry
	xattrIDEntry    = 16             // struct squashfs_xattr_id
	maxBlockSize    = 1 << 20        // SQUASHFS_FILE_MAX_SIZE
	minBlockSize    = 4 << 10        // format.adoc: block_size is a power of two from 4 KiB to 1 MiB
	maxTime         = math.MaxUint32 // inode and superblock times are u32 seconds
)

// Defaults of Options, as mksquashfs has them.
const (
	DefaultBlockSize = 128 << 10 // SQUASHFS_FILE_SIZE in squashfs-tools
	DefaultLevel     = 15        // ZSTD_DEFAULT_COMPRESSION_LEVEL in squashfs-tools' zstd_wrapper.h
)

// Inode types (squashfs_fs.h SQUASHFS_DIR_TYPE ... SQUASHFS_LSOCKET_TYPE). A directory entry
// always names the basic type, even when the inode is extended (format.adoc "Directory Table").
const (
	typeDir = 1 + iota
	typeFile
	typeSymlink
	typeBlockDev
	typeCharDev
	typeFIFO
	typeSocket
	extended = 7 // an extended inode's type is the basic one plus 7 (SQUASHFS_LDIR_TYPE = 8, ...)
)

// Options say how to write an image. The zero value writes 128 KiB blocks at zstd level 15 with
// one worker per CPU, all times 0, and a root directory 0755 owned by 0:0.
type Options struct {
	// BlockSize is the data block size: a power of two from 4 KiB to 1 MiB.
	BlockSize int
	// Level is the zstd level as zstd(1) and mksquashfs count it (1..22); klauspost/compress has
	// four encoders, chosen by zstd.EncoderLevelFromZstd. From 10 up that is its best encoder,
	// which compresses less than the C library's level 15 (`make bench` shows by how much).
	Level int
	// Workers is the number of blocks compressed at once. The output does not depend on it.
	Workers int
	// SourceDate is the superblock's time and every entry's time unless the entry has its own
	// MTime; entry times after it are clamped to it, as SOURCE_DATE_EPOCH asks. Zero means 0.
	SourceDate time.Time
	// RootMode, RootUID and RootGID describe the root directory, which the tree has no entry for.
	// RootMode 0 means 0755.
	RootMode         fs.FileMode
	RootUID, RootGID int
}

func (o Options) withDefaults() (Options, error) {
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.BlockSize < minBlockSize || o.BlockSize > maxBlockSize || bits.OnesCount(uint(o.BlockSize)) != 1 {
		return o, fmt.Errorf("squashfs: block size %d is not a power of two from 4 KiB to 1 MiB", o.BlockSize)
	}
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if o.Level < 1 || o.Level > 22 {
		return o, fmt.Errorf("squashfs: zstd level %d is not from 1 to 22", o.Level)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.RootMode == 0 {
		o.RootMode = 0o755
	}
	return o, nil
}

// ErrTooLarge is returned for an entry the format cannot hold (a name over 256 bytes, a symlink
// target over 4096, more than 65536 owners, a device number over 12:20 bits). Fix the tree.
var ErrTooLarge = errors.New("too large for squashfs")

// Write writes tree as a squashfs image at offset 0 of w and returns the image's size, padded to
// 4 KiB. Data blocks are written in order as they are compressed; the superblock last.
func Write(w io.WriterAt, tree *fstree.Tree, opts Options) (int64, error) {
	b, err := newBuilder(w, opts)
	if err != nil {
		return 0, err
	}
	defer b.enc.Close()
	if err := b.layout(tree); err != nil {
		return 0, fmt.Errorf("squashfs: %w", err)
	}
	if err := b.writeData(); err != nil {
		return 0, fmt.Errorf("squashfs: %w", err)
	}
	size, err := b.writeTables()
	if err != nil {
		return 0, fmt.Errorf("squashfs: %w", err)
	}
	return size, nil
}

func newBuilder(w io.WriterAt, opts Options) (*builder, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(opts.Level)),
		zstd.WithEncoderConcurrency(opts.Workers),
		// The kernel's zstd workspace holds a window of the block size (zstd_wrapper.c:
		// window_size = max(block_size, SQUASHFS_METADATA_SIZE)): a single-segment frame's
		// window is its content size, which never exceeds a block.
		zstd.WithSingleSegment(true),
		// squashfs-tools writes no frame checksum (ZSTD_compressCCtx defaults); neither do we.
		zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, fmt.Errorf("squashfs: zstd: %w", err)
	}
	return &builder{opts: opts, enc: enc, out: &sink{w: w, pos: superblockSize}}, nil
}

// sink writes sequentially through an io.WriterAt.
type sink struct {
	w   io.WriterAt
	pos int64
}

func (s *sink) write(p []byte) error {
	n, err := s.w.WriteAt(p, s.pos)
	s.pos += int64(n)
	if err != nil {
		return fmt.Errorf("writing at %d: %w", s.pos-int64(n), err)
	}
	return nil
}

// compress returns src compressed, or src itself and false when zstd does not make it smaller
// (format.adoc: a block that does not shrink is stored with the "uncompressed" bit).
func compress(enc *zstd.Encoder, dst, src []byte) ([]byte, bool) {
	out := enc.EncodeAll(src, dst[:0])
	if len(out) >= len(src) {
		return src, false
	}
	return out, true
}

var le = binary.LittleEndian

// superblock is struct squashfs_super_block (format.adoc "The Superblock").
type superblock struct {
	inodes, mkfsTime, fragments                    uint32
	flags, ids                                     uint16
	root, bytesUsed, idTable, xattrTable           uint64
	inodeTable, dirTable, fragmentTable, blockSize uint64
}

func (s *superblock) bytes() []byte {
	b := make([]byte, 0, superblockSize)
	b = le.AppendUint32(b, magic)
	b = le.AppendUint32(b, s.inodes)
	b = le.AppendUint32(b, s.mkfsTime)
	b = le.AppendUint32(b, uint32(s.blockSize))
	b = le.AppendUint32(b, s.fragments)
	b = le.AppendUint16(b, zstdCompression)
	b = le.AppendUint16(b, uint16(bits.TrailingZeros64(s.blockSize))) // block_log, checked by super.c
	b = le.AppendUint16(b, s.flags)
	b = le.AppendUint16(b, s.ids)
	b = le.AppendUint16(b, versionMajor)
	b = le.AppendUint16(b, versionMinor)
	b = le.AppendUint64(b, s.root)
	b = le.AppendUint64(b, s.bytesUsed)
	b = le.AppendUint64(b, s.idTable)
	b = le.AppendUint64(b, s.xattrTable)
	b = le.AppendUint64(b, s.inodeTable)
	b = le.AppendUint64(b, s.dirTable)
	b = le.AppendUint64(b, s.fragmentTable)
	b = le.AppendUint64(b, invalidBlock) // lookup (export) table: none, the image is not for NFS
	return b
}
