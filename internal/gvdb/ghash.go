package gvdb

// GLib's gvdb-builder.c keeps each table in a GHashTable and fills its hash buckets by walking
// that table, so the order of items inside a bucket, and with it the file's layout, is the
// iteration order of a GHashTable. That order is a pure function of the keys and the order they
// were inserted in; GHashOrder computes it, so that this writer lays files out byte for byte as
// GLib does. The algorithm is glib/ghash.c's (GLib 2.60 and later): open addressing over a
// power-of-two array, the first probe at (hash × 11) mod a prime below the size, quadratic
// probing after, growth when the table is 15/16 occupied, rehashing in place.

// ghashMinShift is ghash.c's HASH_TABLE_MIN_SHIFT: 8 slots at first.
const ghashMinShift = 3

// ghashPrimes are ghash.c's prime_mod, the largest prime below each power of two up to 1<<31.
var ghashPrimes = [...]uint32{1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381,
	32749, 65521, 131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393,
	67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647}

type ghash struct {
	mod, mask         uint32
	hashes            []uint32 // 0 unused, 1 tombstone (never here: nothing is removed), else the hash
	keys              []string
	nnodes, noccupied int
}

func (g *ghash) setShift(shift int) {
	g.mod = ghashPrimes[shift]
	g.mask = 1<<shift - 1
}

func (g *ghash) index(h uint32) uint32 { return h * 11 % g.mod }

func (g *ghash) insert(key string) {
	h := Hash(key) // g_str_hash is the same djb hash over signed chars
	if h < 2 {
		h = 2 // 0 and 1 mark unused and removed slots
	}
	i, step := g.index(h), uint32(0)
	for g.hashes[i] != 0 {
		if g.hashes[i] == h && g.keys[i] == key {
			return // already there: GHashTable keeps the slot
		}
		step++
		i = (i + step) & g.mask
	}
	g.hashes[i], g.keys[i] = h, key
	g.nnodes++
	g.noccupied++
	size := len(g.hashes)
	if size > 1<<ghashMinShift && (size-1)/4 >= g.nnodes || size <= g.noccupied+g.noccupied/16 {
		g.resize()
	}
}

// resize is g_hash_table_resize and resize_map: a new size for nnodes × 4/3, then every entry
// moved to its new first free probe, evicting and re-placing the entry found there.
func (g *ghash) resize() {
	old := len(g.hashes)
	shift := 0
	for n := g.nnodes + g.nnodes/3; n != 0; n >>= 1 {
		shift++
	}
	g.setShift(max(shift, ghashMinShift))
	size := int(g.mask) + 1
	for len(g.hashes) < size {
		g.hashes, g.keys = append(g.hashes, 0), append(g.keys, "")
	}
	moved := make([]bool, max(size, old))
	for i := 0; i < old; i++ {
		h := g.hashes[i]
		if h < 2 {
			g.hashes[i] = 0
			continue
		}
		if moved[i] {
			continue
		}
		g.hashes[i] = 0
		key := g.keys[i]
		g.keys[i] = ""
		for {
			j, step := g.index(h), uint32(0)
			for moved[j] {
				step++
				j = (j + step) & g.mask
			}
			moved[j] = true
			replaced, replacedKey := g.hashes[j], g.keys[j]
			g.hashes[j], g.keys[j] = h, key
			if replaced < 2 {
				break
			}
			h, key = replaced, replacedKey
		}
	}
	g.hashes, g.keys = g.hashes[:size], g.keys[:size]
	g.noccupied = g.nnodes
}

// GHashOrder returns keys in the order a GHashTable with g_str_hash iterates them
// (g_hash_table_foreach) after they were inserted in the order given. glib-compile-schemas fills
// each GVDB table by iterating such tables: callers that want GLib's layout insert in this order.
func GHashOrder(keys []string) []string {
	g := &ghash{hashes: make([]uint32, 1<<ghashMinShift), keys: make([]string, 1<<ghashMinShift)}
	g.setShift(ghashMinShift)
	for _, k := range keys {
		g.insert(k)
	}
	var out []string
	for i, h := range g.hashes {
		if h >= 2 {
			out = append(out, g.keys[i])
		}
	}
	return out
}
