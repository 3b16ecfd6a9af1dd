// Package gvdb writes and reads GVDB files, GLib's "GVariant database": nested hash tables whose
// leaves are GVariant values. GSettings' schema cache (gschemas.compiled) and dconf's databases
// are GVDB files.
//
// The format is what GNOME/gvdb's gvdb-format.h declares and gvdb-builder.c writes:
//
//	header (24 bytes): signature "GVariant" (two u32), version u32 = 0, options u32 = 0,
//	                   root pointer {start u32, end u32}
//	hash table:        bloom header u32 (bloom shift << 27 | number of bloom words),
//	                   n_buckets u32, bloom words, bucket start indices (u32 each),
//	                   items of 24 bytes {hash u32, parent u32, key_start u32, key_size u16,
//	                   type u8 ('v' value, 'H' table, 'L' list of children), unused u8,
//	                   value pointer {start u32, end u32}}
//
// All integers are little-endian. A key's hash is djb's (h = h*33 + signed char, from 5381) over
// its full name; an item whose parent is set stores only the part of its name after the
// parent's. Values are the normal form of the value boxed in a variant, 8-aligned.
//
// The writer lays the file out in the builder's order (a table, then for each item in bucket
// order its key, then its value, list or sub-table). Inside a bucket the builder's order is the
// reverse of its GHashTable's iteration order, which depends on the order of insertion; this
// writer computes that order (GHashOrder), so that a table filled in the order GLib fills it
// gives GLib's bytes.
package gvdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/internal/gvariant"
)

// signature is "GVariant" read as two little-endian u32 words (gvdb-format.h: GVDB_SIGNATURE0
// 1918981703, GVDB_SIGNATURE1 1953390953).
const (
	signature0 = 1918981703
	signature1 = 1953390953
)

const (
	headerSize = 24 // struct gvdb_header
	itemSize   = 24 // struct gvdb_hash_item
	// bloomShift is what gvdb-builder.c writes in the bloom header; it writes no bloom words.
	bloomShift = 5
)

// Table is one hash table of a GVDB file: items by full key.
type Table struct {
	items map[string]*Item
	order []string // keys in the order of their first insertion
}

// Item is one entry of a table. It holds exactly one of: a value, a sub-table, or children (the
// items whose parent it is, which makes it a list).
type Item struct {
	key      string
	value    *gvariant.Value
	table    *Table
	parent   *Item
	children []*Item
	index    uint32
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{items: map[string]*Item{}} }

// Insert adds an item named key (replacing one of the same name, which keeps its place in the
// order of insertion) and returns it.
func (t *Table) Insert(key string) *Item {
	if _, ok := t.items[key]; !ok {
		t.order = append(t.order, key)
	}
	it := &Item{key: key}
	t.items[key] = it
	return it
}

// InsertValue adds an item named key holding v.
func (t *Table) InsertValue(key string, v gvariant.Value) {
	t.Insert(key).SetValue(v)
}

// SetValue makes the item a value.
func (it *Item) SetValue(v gvariant.Value) { it.value = &v }

// SetTable makes the item a sub-table.
func (it *Item) SetTable(t *Table) { it.table = t }

// SetParent lists the item as a child of parent, whose name must be a prefix of the item's.
// The parent becomes a list ('L') of its children, in key order.
func (it *Item) SetParent(parent *Item) error {
	if !strings.HasPrefix(it.key, parent.key) {
		return fmt.Errorf("gvdb: %q cannot be a child of %q: not a prefix", it.key, parent.key)
	}
	if parent.value != nil || parent.table != nil {
		return fmt.Errorf("gvdb: %q holds a value or table; it cannot have children", parent.key)
	}
	it.parent = parent
	i := sort.Search(len(parent.children), func(i int) bool { return parent.children[i].key > it.key })
	parent.children = append(parent.children[:i], append([]*Item{it}, parent.children[i:]...)...)
	return nil
}

// Hash is the hash GVDB stores for a key (gvdb-builder.c, djb_hash): signed chars.
func Hash(key string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(key); i++ {
		h = h*33 + uint32(int32(int8(key[i])))
	}
	return h
}

type writer struct{ buf []byte }

// allocate reserves size bytes at the next offset aligned to a, and returns that offset.
func (w *writer) allocate(a, size int) int {
	for len(w.buf)%a != 0 {
		w.buf = append(w.buf, 0)
	}
	off := len(w.buf)
	w.buf = append(w.buf, make([]byte, size)...)
	return off
}

func (w *writer) pointer(at, start, end int) {
	binary.LittleEndian.PutUint32(w.buf[at:], uint32(start))
	binary.LittleEndian.PutUint32(w.buf[at+4:], uint32(end))
}

// Bytes serialises the table t as a whole GVDB file, little-endian.
func (t *Table) Bytes() ([]byte, error) {
	w := &writer{buf: make([]byte, headerSize)}
	le := binary.LittleEndian
	le.PutUint32(w.buf[0:], signature0)
	le.PutUint32(w.buf[4:], signature1)
	// version and options stay 0
	start, end, err := w.table(t)
	if err != nil {
		return nil, err
	}
	w.pointer(16, start, end)
	if len(w.buf) > math.MaxUint32 {
		return nil, fmt.Errorf("gvdb: file of %d bytes exceeds 32-bit offsets", len(w.buf))
	}
	return w.buf, nil
}

func (w *writer) table(t *Table) (start, end int, err error) {
	n := len(t.items)
	buckets := make([][]*Item, n)
	for _, k := range GHashOrder(t.order) {
		// gvdb-builder.c's hash_table_insert prepends each item to its bucket's list
		b := Hash(k) % uint32(n)
		buckets[b] = append([]*Item{t.items[k]}, buckets[b]...)
	}
	var order []*Item
	for _, b := range buckets {
		for _, it := range b {
			it.index = uint32(len(order))
			order = append(order, it)
		}
	}
	size := 8 + 4*n + itemSize*n // the two header words, buckets, items; no bloom words
	start = w.allocate(4, size)
	le := binary.LittleEndian
	le.PutUint32(w.buf[start:], bloomShift<<27)
	le.PutUint32(w.buf[start+4:], uint32(n))
	index := 0
	for b, items := range buckets {
		le.PutUint32(w.buf[start+8+4*b:], uint32(index))
		index += len(items)
	}
	for i, it := range order {
		at := start + 8 + 4*n + itemSize*i
		le.PutUint32(w.buf[at:], Hash(it.key))
		parent := uint32(math.MaxUint32)
		name := it.key
		if it.parent != nil {
			if _, ok := t.items[it.parent.key]; !ok || t.items[it.parent.key] != it.parent {
				return 0, 0, fmt.Errorf("gvdb: parent %q of %q is not in the same table", it.parent.key, it.key)
			}
			parent = it.parent.index
			name = it.key[len(it.parent.key):]
		}
		le.PutUint32(w.buf[at+4:], parent)
		if len(name) > math.MaxUint16 {
			return 0, 0, fmt.Errorf("gvdb: key %q longer than 65535 bytes", name)
		}
		le.PutUint32(w.buf[at+8:], uint32(len(w.buf)))
		le.PutUint16(w.buf[at+12:], uint16(len(name)))
		w.buf = append(w.buf, name...)
		if it.value != nil && (len(it.children) > 0 || it.table != nil) || len(it.children) > 0 && it.table != nil {
			return 0, 0, fmt.Errorf("gvdb: item %q holds more than one of a value, children and a table", it.key)
		}
		switch {
		case it.value != nil:
			w.buf[at+14] = 'v'
			data := gvariant.Variant(*it.value).Bytes()
			s := w.allocate(8, len(data))
			copy(w.buf[s:], data)
			w.pointer(at+16, s, s+len(data))
		case len(it.children) > 0:
			w.buf[at+14] = 'L'
			s := w.allocate(4, 4*len(it.children))
			for j, c := range it.children {
				le.PutUint32(w.buf[s+4*j:], c.index)
			}
			w.pointer(at+16, s, s+4*len(it.children))
		case it.table != nil:
			w.buf[at+14] = 'H'
			s, e, err := w.table(it.table)
			if err != nil {
				return 0, 0, err
			}
			w.pointer(at+16, s, e)
		}
	}
	return start, start + size, nil
}
