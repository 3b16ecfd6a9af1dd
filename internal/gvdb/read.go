package gvdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/genai-os/genai-build/internal/gvariant"
)

// Reader is one hash table of a GVDB file, read the way gvdb-reader.c reads it: a key is found
// through its hash bucket, so a misplaced item is not found.
type Reader struct {
	data    []byte
	buckets []uint32
	items   []byte // n_items × 24 bytes
}

// Open reads the root table of a little-endian GVDB file.
func Open(data []byte) (*Reader, error) {
	if len(data) < headerSize {
		return nil, fmt.Errorf("gvdb: %d bytes is shorter than the header", len(data))
	}
	le := binary.LittleEndian
	if le.Uint32(data) != signature0 || le.Uint32(data[4:]) != signature1 {
		return nil, fmt.Errorf("gvdb: not a little-endian GVDB file (signature %q)", data[:8])
	}
	if v := le.Uint32(data[8:]); v != 0 {
		return nil, fmt.Errorf("gvdb: version %d, want 0", v)
	}
	return table(data, le.Uint32(data[16:]), le.Uint32(data[20:]))
}

func table(data []byte, start, end uint32) (*Reader, error) {
	if start > end || uint64(end) > uint64(len(data)) || start%4 != 0 || end-start < 8 {
		return nil, fmt.Errorf("gvdb: bad table pointer %d..%d", start, end)
	}
	le := binary.LittleEndian
	t := data[start:end]
	bloomWords := le.Uint32(t) & (1<<27 - 1)
	nBuckets := le.Uint32(t[4:])
	off := 8 + 4*uint64(bloomWords)
	if off+4*uint64(nBuckets) > uint64(len(t)) {
		return nil, fmt.Errorf("gvdb: table at %d: %d buckets overrun it", start, nBuckets)
	}
	r := &Reader{data: data}
	for i := uint32(0); i < nBuckets; i++ {
		r.buckets = append(r.buckets, le.Uint32(t[off+4*uint64(i):]))
	}
	rest := t[off+4*uint64(nBuckets):]
	r.items = rest[:len(rest)/itemSize*itemSize]
	return r, nil
}

func (r *Reader) n() int { return len(r.items) / itemSize }

func (r *Reader) item(i int) []byte { return r.items[i*itemSize : (i+1)*itemSize] }

// key is the stored part of item i's name.
func (r *Reader) key(i int) (string, error) {
	it := r.item(i)
	s := uint64(binary.LittleEndian.Uint32(it[8:]))
	e := s + uint64(binary.LittleEndian.Uint16(it[12:]))
	if e > uint64(len(r.data)) {
		return "", fmt.Errorf("gvdb: key of item %d out of the file", i)
	}
	return string(r.data[s:e]), nil
}

// name is item i's full name: its parents' names, then its own (gvdb-reader.c,
// gvdb_table_check_name).
func (r *Reader) name(i int) (string, error) {
	name := ""
	for depth := 0; ; depth++ {
		if depth > r.n() {
			return "", fmt.Errorf("gvdb: a loop of parents at item %d", i)
		}
		k, err := r.key(i)
		if err != nil {
			return "", err
		}
		name = k + name
		p := binary.LittleEndian.Uint32(r.item(i)[4:])
		if p == math.MaxUint32 {
			return name, nil
		}
		if int(p) >= r.n() {
			return "", fmt.Errorf("gvdb: item %d has parent %d of %d", i, p, r.n())
		}
		i = int(p)
	}
}

// Names lists the full names of every item, in file order.
func (r *Reader) Names() ([]string, error) {
	var out []string
	for i := 0; i < r.n(); i++ {
		n, err := r.name(i)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// lookup returns the type and value bytes of item key.
func (r *Reader) lookup(key string) (kind byte, value []byte, err error) {
	kind, s, e, err := r.pointer(key)
	if err != nil {
		return 0, nil, err
	}
	return kind, r.data[s:e], nil
}

// pointer finds key through its bucket, as gvdb_table_lookup does, and returns the item's type
// and value pointer.
func (r *Reader) pointer(key string) (kind byte, start, end uint32, err error) {
	if len(r.buckets) == 0 {
		return 0, 0, 0, fmt.Errorf("gvdb: no %q", key)
	}
	h := Hash(key)
	b := h % uint32(len(r.buckets))
	first := r.buckets[b]
	last := uint32(r.n())
	if int(b)+1 < len(r.buckets) {
		last = r.buckets[b+1]
	}
	for i := first; i < last && int(i) < r.n(); i++ {
		it := r.item(int(i))
		if binary.LittleEndian.Uint32(it) != h {
			continue
		}
		n, err := r.name(int(i))
		if err != nil {
			return 0, 0, 0, err
		}
		if n != key {
			continue
		}
		s, e := binary.LittleEndian.Uint32(it[16:]), binary.LittleEndian.Uint32(it[20:])
		if s > e || uint64(e) > uint64(len(r.data)) {
			return 0, 0, 0, fmt.Errorf("gvdb: %q: bad value pointer %d..%d", key, s, e)
		}
		return it[14], s, e, nil
	}
	return 0, 0, 0, fmt.Errorf("gvdb: no %q", key)
}

// Value returns the value of item key, which must be a 'v' item.
func (r *Reader) Value(key string) (gvariant.Value, error) {
	kind, data, err := r.lookup(key)
	if err != nil {
		return gvariant.Value{}, err
	}
	if kind != 'v' {
		return gvariant.Value{}, fmt.Errorf("gvdb: %q is of type %q, not a value", key, kind)
	}
	v, err := gvariant.Decode("v", data)
	if err != nil {
		return gvariant.Value{}, fmt.Errorf("gvdb: %q: %w", key, err)
	}
	return v.Children()[0], nil
}

// Table returns the sub-table of item key, which must be an 'H' item.
func (r *Reader) Table(key string) (*Reader, error) {
	kind, s, e, err := r.pointer(key)
	if err != nil {
		return nil, err
	}
	if kind != 'H' {
		return nil, fmt.Errorf("gvdb: %q is of type %q, not a table", key, kind)
	}
	return table(r.data, s, e)
}

// List returns the full names of the children of an 'L' item.
func (r *Reader) List(key string) ([]string, error) {
	kind, data, err := r.lookup(key)
	if err != nil {
		return nil, err
	}
	if kind != 'L' || len(data)%4 != 0 {
		return nil, fmt.Errorf("gvdb: %q is of type %q, not a list", key, kind)
	}
	var out []string
	for i := 0; i < len(data); i += 4 {
		c := binary.LittleEndian.Uint32(data[i:])
		if int(c) >= r.n() {
			return nil, fmt.Errorf("gvdb: %q: child %d of %d", key, c, r.n())
		}
		n, err := r.name(int(c))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Dump prints every item of the table, one a line in name order: values in the text format,
// sub-tables indented inside braces, lists with their children's names. Two files with the same
// content dump the same, whatever their layout.
func (r *Reader) Dump() (string, error) {
	var b strings.Builder
	err := r.dump("", &b)
	return b.String(), err
}

func (r *Reader) dump(indent string, b *strings.Builder) error {
	if len(indent) > 2*64 {
		return fmt.Errorf("gvdb: tables nested more than 64 deep")
	}
	names, err := r.Names()
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		kind, _, _, err := r.pointer(n)
		if err != nil {
			return err
		}
		switch kind {
		case 'v':
			v, err := r.Value(n)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "%s%q = %s %s\n", indent, n, v.Type(), v)
		case 'H':
			sub, err := r.Table(n)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "%s%q {\n", indent, n)
			if err := sub.dump(indent+"  ", b); err != nil {
				return err
			}
			fmt.Fprintf(b, "%s}\n", indent)
		case 'L':
			l, err := r.List(n)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "%s%q lists %q\n", indent, n, l)
		default:
			fmt.Fprintf(b, "%s%q (type %q)\n", indent, n, kind)
		}
	}
	return nil
}
