package gschema

import "encoding/binary"

// strinfo is GSettings' string-info map (GNOME/glib gio/strinfo.c): an array of little-endian
// u32 words where each entry is an integer word followed by a string in words: 0xff (a value) or
// 0xfe (an alias) in the first byte, the string, a nul, zero padding, and 0xff in the last byte;
// at least 2 words and at most 17 (so strings are at most 65 bytes long).
type strinfo []byte

const strinfoMaxWords = 17

// words encodes s as strinfo string words, or nil when s is too long.
func strinfoWords(s string, alias bool) []byte {
	n := max(2, (len(s)+6)>>2)
	if n > strinfoMaxWords {
		return nil
	}
	w := make([]byte, 4*n)
	w[0] = 0xff
	if alias {
		w[0] = 0xfe
	}
	copy(w[1:], s) // the nul and the padding are the zeros already there
	w[len(w)-1] = 0xff
	return w
}

func (si strinfo) word(i int) uint32 { return binary.LittleEndian.Uint32(si[4*i:]) }

// find returns the index of the integer word before s's string words, or -1; it scans as
// strinfo.c's strinfo_scan does, starting one word in.
func (si strinfo) find(s string, alias bool) int {
	w := strinfoWords(s, alias)
	if w == nil || len(si) == 0 {
		return -1
	}
	words := si[4:]
	n, length := len(w)/4, len(words)/4
	for i := 0; i+n <= length; {
		j := 0
		for j < n && string(words[4*(i+j):4*(i+j+1)]) == string(w[4*j:4*(j+1)]) {
			j++
		}
		if j == n {
			return i
		}
		i += max(j, 1)
	}
	return -1
}

// findValue reports whether value is an entry's integer (0xff on either side, strinfo.c's
// strinfo_find_integer).
func (si strinfo) findValue(value uint32) bool {
	for i := 0; i < len(si)/4; i++ {
		if si.word(i) == value && (i == 0 || si[4*i-1] == 0xff) && 4*i+4 < len(si) && si[4*i+4] == 0xff {
			return true
		}
	}
	return false
}

func (si strinfo) contains(s string) bool { return si.find(s, false) >= 0 || si.find(s, true) >= 0 }

func (si strinfo) valid(s string) bool { return si.find(s, false) >= 0 }

// appendItem adds s with its value (0 for <choices>).
func (si strinfo) appendItem(s string, value uint32) (strinfo, bool) {
	w := strinfoWords(s, false)
	if w == nil {
		return si, false
	}
	si = binary.LittleEndian.AppendUint32(si, value)
	return append(si, w...), true
}

// appendAlias adds alias for target: its integer word is the index of target's integer word.
func (si strinfo) appendAlias(alias, target string) (strinfo, bool) {
	i := si.find(target, false)
	w := strinfoWords(alias, true)
	if i < 0 || w == nil {
		return si, false
	}
	si = binary.LittleEndian.AppendUint32(si, uint32(i))
	return append(si, w...), true
}

// uint32s is the map as the words of the "au" GSettings stores.
func (si strinfo) uint32s() []uint32 {
	out := make([]uint32, len(si)/4)
	for i := range out {
		out[i] = si.word(i)
	}
	return out
}
