package squashfs

import (
	"crypto/sha256"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/genai-os/genai-build/internal/fstree"
)

// node is one name in the image: a directory entry.
type node struct {
	name     string
	ino      *inode
	parent   *node
	children []*node // for directories, sorted by name as the kernel's lookup expects
}

// inode is one file object; hard links are several nodes sharing one.
type inode struct {
	e     *fstree.Entry // attributes (a hard link's target entry)
	dir   *node         // for a directory, its node
	num   uint32        // inode number, 1..count
	nlink uint32
	ref   uint64 // where it is in the inode table, once written
	data  *fileData
	xattr uint32 // index into the xattr id table, or noXattr
	uid   uint16 // index into the id table
	gid   uint16
	mtime uint32
}

// fileData is where a regular file's content went.
type fileData struct {
	start   uint64   // image offset of the first block
	sizes   []uint32 // stored size of each full block, dataStored when kept as is, 0 for a sparse block
	frag    uint32   // fragment block holding the tail, or noFragment
	fragOff uint32   // offset of the tail in the uncompressed fragment block
	sparse  uint64   // bytes in sparse blocks (format.adoc: the extended file inode's "sparse")
}

type builder struct {
	opts   Options
	enc    *zstd.Encoder
	out    *sink
	root   *node
	order  []*inode // inodes in the order they are written: children before their directory
	files  []*inode // regular files whose data is written, in tree order
	ids    []uint32 // the id table: every uid and gid, ascending
	xattrs [][]byte // each distinct xattr set, serialised as its key/value pairs
	frags  []fragment
}

type fragment struct {
	start uint64
	size  uint32
}

// layout turns the tree into nodes and inodes, numbers the inodes, and finds the owners, xattr
// sets and duplicate files.
func (b *builder) layout(tree *fstree.Tree) error {
	rootEntry := &fstree.Entry{Kind: fstree.Dir, Mode: b.opts.RootMode, UID: b.opts.RootUID, GID: b.opts.RootGID}
	b.root = &node{ino: &inode{e: rootEntry, nlink: 2}}
	b.root.ino.dir = b.root
	nodes := map[string]*node{"": b.root}
	entries := tree.Entries()
	var links []*node
	for _, e := range entries {
		dir, name := path.Split(e.Path)
		parent := nodes[strings.TrimSuffix(dir, "/")]
		if parent == nil || parent.ino.e.Kind != fstree.Dir {
			return fmt.Errorf("%s: parent directory missing from the tree", e.Path)
		}
		if len(name) > nameLen {
			return fmt.Errorf("%s: name of %d bytes: %w", e.Path, len(name), ErrTooLarge)
		}
		n := &node{name: name, parent: parent}
		if e.Kind == fstree.Hardlink {
			links = append(links, n)
			n.ino = &inode{e: e} // resolved below
		} else {
			n.ino = &inode{e: e, nlink: 1}
			if e.Kind == fstree.Dir {
				n.ino.dir = n
				n.ino.nlink = 2
				parent.ino.nlink++ // the child's ".."
			}
		}
		parent.children = append(parent.children, n)
		nodes[e.Path] = n
	}
	for _, n := range links {
		target, err := resolve(nodes, n.ino.e)
		if err != nil {
			return err
		}
		n.ino = target.ino
		n.ino.nlink++
	}
	for _, n := range nodes {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
	}
	b.number(b.root)
	b.order = append(b.order, b.root.ino)
	b.root.ino.num = uint32(len(b.order))
	if err := b.attributes(); err != nil {
		return err
	}
	return b.dedupe()
}

// resolve follows a hard link to the entry it names.
func resolve(nodes map[string]*node, e *fstree.Entry) (*node, error) {
	seen := e.Path
	for range 64 {
		t := nodes[e.Target]
		if t == nil {
			return nil, fmt.Errorf("%s: hard link to %s, which is not in the tree", seen, e.Target)
		}
		if t.ino.e.Kind == fstree.Dir {
			return nil, fmt.Errorf("%s: hard link to directory %s", seen, e.Target)
		}
		if t.ino.e.Kind != fstree.Hardlink {
			return t, nil
		}
		e = t.ino.e
	}
	return nil, fmt.Errorf("%s: hard link chain too long or circular", seen)
}

// number gives inode numbers in write order: a directory's subdirectories (recursively), then
// its other children, then the directory itself, so every inode a listing names is written
// before the listing, and a directory knows where its listing is when its inode is written.
// The root comes last (mksquashfs does the same).
func (b *builder) number(d *node) {
	for _, c := range d.children {
		if c.ino.dir != nil {
			b.number(c)
			b.order = append(b.order, c.ino)
			c.ino.num = uint32(len(b.order))
		}
	}
	for _, c := range d.children {
		if c.ino.dir == nil && c.ino.num == 0 {
			b.order = append(b.order, c.ino)
			c.ino.num = uint32(len(b.order))
			if c.ino.e.Kind == fstree.File {
				b.files = append(b.files, c.ino)
			}
		}
	}
}

// attributes checks every inode's fields and collects the id table and the xattr sets.
func (b *builder) attributes() error {
	ids := map[uint32]bool{}
	for _, in := range b.order {
		e := in.e
		for _, id := range []int{e.UID, e.GID} {
			if id < 0 || id > maxTime {
				return fmt.Errorf("%s: owner %d:%d does not fit 32 bits", e.Path, e.UID, e.GID)
			}
			ids[uint32(id)] = true
		}
	}
	if len(ids) > maxIDs {
		return fmt.Errorf("%d distinct owners: %w", len(ids), ErrTooLarge)
	}
	for id := range ids {
		b.ids = append(b.ids, id)
	}
	sort.Slice(b.ids, func(i, j int) bool { return b.ids[i] < b.ids[j] })
	index := map[uint32]uint16{}
	for i, id := range b.ids {
		index[id] = uint16(i)
	}
	sets := map[string]uint32{}
	for _, in := range b.order {
		e := in.e
		in.uid, in.gid = index[uint32(e.UID)], index[uint32(e.GID)]
		t, err := b.mtime(e)
		if err != nil {
			return err
		}
		in.mtime = t
		in.xattr = noXattr
		if len(e.Xattrs) > 0 {
			kv, err := xattrPairs(e.Xattrs)
			if err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
			id, ok := sets[string(kv)]
			if !ok {
				id = uint32(len(b.xattrs))
				sets[string(kv)] = id
				b.xattrs = append(b.xattrs, kv)
			}
			in.xattr = id
		}
		switch e.Kind {
		case fstree.Symlink:
			if len(e.Target) > symlinkMax {
				return fmt.Errorf("%s: symlink target of %d bytes: %w", e.Path, len(e.Target), ErrTooLarge)
			}
		case fstree.CharDev, fstree.BlockDev:
			if e.Major >= 1<<12 || e.Minor >= 1<<20 {
				return fmt.Errorf("%s: device %d:%d: %w", e.Path, e.Major, e.Minor, ErrTooLarge)
			}
		case fstree.File:
			if e.Size < 0 {
				return fmt.Errorf("%s: negative size", e.Path)
			}
		case fstree.Dir, fstree.FIFO, fstree.Socket:
		default:
			return fmt.Errorf("%s: unsupported kind %s", e.Path, e.Kind)
		}
	}
	return nil
}

func (b *builder) mtime(e *fstree.Entry) (uint32, error) {
	t := b.opts.SourceDate
	if !e.MTime.IsZero() && (t.IsZero() || e.MTime.Before(t)) {
		t = e.MTime
	}
	if t.IsZero() {
		return 0, nil
	}
	if s := t.Unix(); s >= 0 && s <= maxTime {
		return uint32(s), nil
	}
	return 0, fmt.Errorf("%s: time %s does not fit squashfs' u32 seconds", e.Path, t.UTC())
}

// Xattr name prefixes and their type ids (squashfs_fs.h SQUASHFS_XATTR_USER, _TRUSTED,
// _SECURITY); the name is stored without its prefix.
var xattrPrefixes = []string{"user.", "trusted.", "security."}

// xattrPairs serialises a set as its key/value pairs, names sorted: struct squashfs_xattr_entry
// (type u16, name size u16, name) then struct squashfs_xattr_val (value size u32, value).
func xattrPairs(set map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	var kv []byte
	for _, n := range names {
		typ := -1
		for i, p := range xattrPrefixes {
			if strings.HasPrefix(n, p) && len(n) > len(p) {
				typ = i
			}
		}
		if typ < 0 {
			return nil, fmt.Errorf("xattr %q: squashfs stores only user., trusted. and security. names", n)
		}
		short := n[len(xattrPrefixes[typ]):]
		v := set[n]
		if len(short) > 0xFFFF || int64(len(v)) > 0xFFFFFFFF {
			return nil, fmt.Errorf("xattr %q: %w", n, ErrTooLarge)
		}
		kv = le.AppendUint16(kv, uint16(typ))
		kv = le.AppendUint16(kv, uint16(len(short)))
		kv = append(kv, short...)
		kv = le.AppendUint32(kv, uint32(len(v)))
		kv = append(kv, v...)
	}
	return kv, nil
}

// dedupe lets files with the same content share one copy of the data, as mksquashfs does. Only
// files whose size another file has are hashed, so most files are read once.
func (b *builder) dedupe() error {
	bySize := map[int64][]*inode{}
	for _, in := range b.files {
		if in.e.Size > 0 {
			bySize[in.e.Size] = append(bySize[in.e.Size], in)
		}
	}
	first := map[[sha256.Size]byte]*inode{}
	kept := b.files[:0]
	for _, in := range b.files {
		in.data = &fileData{frag: noFragment}
		if len(bySize[in.e.Size]) < 2 {
			kept = append(kept, in)
			continue
		}
		sum, err := hashOf(in.e)
		if err != nil {
			return err
		}
		if f, ok := first[sum]; ok {
			in.data = f.data
			continue
		}
		first[sum] = in
		kept = append(kept, in)
	}
	b.files = kept
	return nil
}

func hashOf(e *fstree.Entry) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	r, err := e.Open()
	if err != nil {
		return sum, fmt.Errorf("%s: %w", e.Path, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return sum, fmt.Errorf("%s: %w", e.Path, err)
	}
	if n != e.Size {
		return sum, fmt.Errorf("%s: %d bytes, the tree says %d: the source changed", e.Path, n, e.Size)
	}
	h.Sum(sum[:0])
	return sum, nil
}
