package squashfs

import "github.com/klauspost/compress/zstd"

// metaWriter builds one metadata table in memory: 8 KiB blocks of uncompressed bytes, each
// stored behind a u16 header holding its stored size, with metaStored set when it is kept
// uncompressed (format.adoc "Metadata Blocks"). A reference into the table is the stored offset
// of a block from the table's start, shifted left 16, plus the offset inside the uncompressed
// block (squashfs_fs.h SQUASHFS_INODE_BLK / SQUASHFS_INODE_OFFSET).
type metaWriter struct {
	enc    *zstd.Encoder
	out    []byte   // finished blocks with their headers
	cur    []byte   // bytes of the block being filled
	starts []uint64 // offset in out of each finished block, for the tables indexed by block
	tmp    []byte
}

func newMeta(enc *zstd.Encoder) *metaWriter {
	return &metaWriter{enc: enc, cur: make([]byte, 0, metaSize)}
}

// ref is where the next byte written will be.
func (m *metaWriter) ref() uint64 { return uint64(len(m.out))<<16 | uint64(len(m.cur)) }

func (m *metaWriter) write(p []byte) {
	for len(p) > 0 {
		n := min(len(p), metaSize-len(m.cur))
		m.cur = append(m.cur, p[:n]...)
		p = p[n:]
		if len(m.cur) == metaSize {
			m.flush()
		}
	}
}

func (m *metaWriter) flush() {
	if len(m.cur) == 0 {
		return
	}
	m.starts = append(m.starts, uint64(len(m.out)))
	var stored []byte
	var ok bool
	stored, ok = compress(m.enc, m.tmp, m.cur)
	if ok {
		m.tmp = stored
		m.out = le.AppendUint16(m.out, uint16(len(stored)))
	} else {
		m.out = le.AppendUint16(m.out, uint16(len(stored))|metaStored)
	}
	m.out = append(m.out, stored...)
	m.cur = m.cur[:0]
}

// bytes finishes the table and returns it.
func (m *metaWriter) bytes() []byte {
	m.flush()
	return m.out
}
