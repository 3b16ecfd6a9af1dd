package gvdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/genai-os/genai-build/internal/gvariant"
)

func sample(order []string) *Table {
	root := NewTable()
	list := root.Insert("")
	for _, id := range order {
		sub := NewTable()
		it := root.Insert(id)
		it.SetTable(sub)
		if err := it.SetParent(list); err != nil {
			panic(err)
		}
		sub.InsertValue(".path", gvariant.String("/"+id+"/"))
		sub.InsertValue("n", gvariant.Tuple(gvariant.Int32(int32(len(id))), gvariant.String(id)))
	}
	return root
}

func TestRoundTrip(t *testing.T) {
	ids := []string{"org.a", "org.b", "org.c.d", "x", "é-non-ascii"}
	data, err := sample(ids).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("GVariant")) {
		t.Fatalf("header %q", data[:8])
	}
	r, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Dump()
	if err != nil {
		t.Fatal(err)
	}
	want := `"" lists ["org.a" "org.b" "org.c.d" "x" "é-non-ascii"]
"org.a" {
  ".path" = s '/org.a/'
  "n" = (is) (5, 'org.a')
}
"org.b" {
  ".path" = s '/org.b/'
  "n" = (is) (5, 'org.b')
}
"org.c.d" {
  ".path" = s '/org.c.d/'
  "n" = (is) (7, 'org.c.d')
}
"x" {
  ".path" = s '/x/'
  "n" = (is) (1, 'x')
}
"é-non-ascii" {
  ".path" = s '/é-non-ascii/'
  "n" = (is) (12, 'é-non-ascii')
}
`
	if got != want {
		t.Errorf("dump:\n%s\nwant:\n%s", got, want)
	}
	again, _ := sample(ids).Bytes()
	if !bytes.Equal(data, again) {
		t.Error("the same table written twice differs")
	}
}

// TestHash: djb's hash over signed chars, as gvdb-builder.c computes it.
func TestHash(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want uint32
	}{
		{"", 5381},
		{"a", 5381*33 + 'a'},
		{"\xe9", 5381*33 - 23}, // 0xe9 is -23 as a signed char
	} {
		if got := Hash(tc.key); got != tc.want {
			t.Errorf("Hash(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

// TestLayout checks the header and the first table against gvdb-format.h field by field.
func TestLayout(t *testing.T) {
	tab := NewTable()
	tab.InsertValue("k", gvariant.Uint32(7))
	data, err := tab.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	u32 := func(off int) uint32 { return le.Uint32(data[off:]) }
	// header: signature, version 0, options 0, root pointer 24..(24+8+4+24)
	if u32(8) != 0 || u32(12) != 0 || u32(16) != 24 || u32(20) != 24+8+4+24 {
		t.Errorf("header % x", data[:24])
	}
	// hash header: bloom shift 5, no bloom words; 1 bucket starting at item 0
	if u32(24) != 5<<27 || u32(28) != 1 || u32(32) != 0 {
		t.Errorf("hash header % x", data[24:36])
	}
	item := data[36:60]
	if le.Uint32(item) != Hash("k") || le.Uint32(item[4:]) != 0xffffffff || le.Uint32(item[8:]) != 60 ||
		le.Uint16(item[12:]) != 1 || item[14] != 'v' {
		t.Errorf("item % x", item)
	}
	// key "k" at 60, then the value 8-aligned at 64: u32 7, a zero byte, "u"
	if string(data[60:61]) != "k" || le.Uint32(item[16:]) != 64 || !bytes.Equal(data[64:], []byte{7, 0, 0, 0, 0, 'u'}) {
		t.Errorf("key and value % x", data[60:])
	}
}

func TestParentInOtherTable(t *testing.T) {
	a, b := NewTable(), NewTable()
	p := a.Insert("")
	c := b.Insert("x")
	if err := c.SetParent(p); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Bytes(); err == nil {
		t.Error("a parent in another table was accepted")
	}
	v := a.Insert("v")
	v.SetValue(gvariant.Bool(true))
	if err := a.Insert("vx").SetParent(v); err == nil {
		t.Error("a value item accepted children")
	}
}

// FuzzOpen: no file makes the reader panic or loop.
func FuzzOpen(f *testing.F) {
	data, _ := sample([]string{"a", "b"}).Bytes()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(data)
		if err != nil {
			return
		}
		_, _ = r.Dump()
	})
}

// TestGHashOrder: GHashTable's iteration order, for a table that grows from 8 slots to 128: a
// permutation of the keys that depends on the insertion order only through collisions.
// (Byte equality with glib-compile-schemas, TestGoldenGsettings in internal/gschema, checks it
// against GLib itself.)
func TestGHashOrder(t *testing.T) {
	var keys []string
	for i := 0; i < 100; i++ {
		keys = append(keys, fmt.Sprintf("key-%d", i))
	}
	got := GHashOrder(keys)
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(sorted, want) {
		t.Fatalf("not a permutation: %q", got)
	}
	// 100 nodes: grown at 8, 16, 31 and 61 occupied slots to 128 slots; the first key in
	// iteration order has the smallest first probe, (hash × 11) mod 127.
	min := keys[0]
	for _, k := range keys {
		if Hash(k)*11%127 < Hash(min)*11%127 {
			min = k
		}
	}
	if got[0] != min {
		t.Errorf("first key %q, want %q", got[0], min)
	}
}
