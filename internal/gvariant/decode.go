package gvariant

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// Decode reads data, the serialised form of a value of type t (spec §2). It accepts the normal
// form and refuses what it cannot frame; it is meant for tests and for reading GVDB files back.
func Decode(t string, data []byte) (Value, error) {
	if err := ValidType(t); err != nil {
		return Value{}, err
	}
	return decode(t, data, 0)
}

func decode(t string, data []byte, depth int) (Value, error) {
	if depth > 128 {
		return Value{}, fmt.Errorf("nested too deeply")
	}
	if n := fixedSize(t); n != 0 && len(data) != n {
		return Value{}, fmt.Errorf("type %s: %d bytes, want %d", t, len(data), n)
	}
	le := binary.LittleEndian
	switch c := t[0]; c {
	case 'b', 'y':
		if c == 'b' && data[0] > 1 {
			return Value{}, fmt.Errorf("boolean byte %d", data[0])
		}
		return Value{typ: t, num: uint64(data[0])}, nil
	case 'n':
		return Int16(int16(le.Uint16(data))), nil
	case 'q':
		return Uint16(le.Uint16(data)), nil
	case 'i', 'h':
		return Value{typ: t, num: uint64(int32(le.Uint32(data)))}, nil
	case 'u':
		return Uint32(le.Uint32(data)), nil
	case 'x', 't':
		return Value{typ: t, num: le.Uint64(data)}, nil
	case 'd':
		return Double(math.Float64frombits(le.Uint64(data))), nil
	case 's', 'o', 'g':
		if len(data) == 0 || data[len(data)-1] != 0 || bytes.IndexByte(data[:len(data)-1], 0) >= 0 || !utf8.Valid(data) {
			return Value{}, fmt.Errorf("type %s: not a nul-terminated UTF-8 string", t)
		}
		return Value{typ: t, str: string(data[:len(data)-1])}, nil
	case 'v':
		z := bytes.LastIndexByte(data, 0)
		if z < 0 {
			return Value{}, fmt.Errorf("variant without a type")
		}
		ct := string(data[z+1:])
		if err := ValidType(ct); err != nil {
			return Value{}, fmt.Errorf("variant: %w", err)
		}
		child, err := decode(ct, data[:z], depth+1)
		return Variant(child), err
	case 'm':
		if len(data) == 0 {
			return Nothing(t[1:]), nil
		}
		if fixedSize(t[1:]) == 0 {
			if data[len(data)-1] != 0 {
				return Value{}, fmt.Errorf("maybe of %s: missing trailing zero", t[1:])
			}
			data = data[:len(data)-1]
		}
		child, err := decode(t[1:], data, depth+1)
		return Just(child), err
	case 'a':
		return decodeArray(t, data, depth)
	}
	return decodeTuple(t, data, depth)
}

func readOffset(data []byte, size int) int {
	var w [8]byte
	copy(w[:], data[:size])
	v := binary.LittleEndian.Uint64(w[:])
	if v > uint64(math.MaxInt32) {
		return -1
	}
	return int(v)
}

func decodeArray(t string, data []byte, depth int) (Value, error) {
	elem := t[1:]
	out := Value{typ: t, children: []Value{}}
	if n := fixedSize(elem); n != 0 {
		if len(data)%n != 0 {
			return Value{}, fmt.Errorf("type %s: %d bytes is not a multiple of %d", t, len(data), n)
		}
		for i := 0; i < len(data); i += n {
			v, err := decode(elem, data[i:i+n], depth+1)
			if err != nil {
				return Value{}, err
			}
			out.children = append(out.children, v)
		}
		return out, nil
	}
	if len(data) == 0 {
		return out, nil
	}
	size := offsetSize(len(data))
	last := readOffset(data[len(data)-size:], size)
	if last < 0 || last > len(data) || (len(data)-last)%size != 0 {
		return Value{}, fmt.Errorf("type %s: bad framing offset %d", t, last)
	}
	n := (len(data) - last) / size
	start := 0
	for i := 0; i < n; i++ {
		end := readOffset(data[last+i*size:], size)
		start = align(start, alignment(elem))
		if end < start || end > last {
			return Value{}, fmt.Errorf("type %s: bad framing offset %d", t, end)
		}
		v, err := decode(elem, data[start:end], depth+1)
		if err != nil {
			return Value{}, err
		}
		out.children = append(out.children, v)
		start = end
	}
	return out, nil
}

func decodeTuple(t string, data []byte, depth int) (Value, error) {
	m := members(t)
	out := Value{typ: t, children: []Value{}}
	size := offsetSize(len(data))
	offEnd := len(data) // framing offsets are read from the end backwards
	start := 0
	for i, mt := range m {
		start = align(start, alignment(mt))
		var end int
		switch {
		case fixedSize(mt) != 0:
			end = start + fixedSize(mt)
		case i == len(m)-1:
			end = offEnd
		default:
			if offEnd-size < 0 || size == 0 {
				return Value{}, fmt.Errorf("type %s: missing framing offset", t)
			}
			offEnd -= size
			end = readOffset(data[offEnd:], size)
		}
		if start > end || end > offEnd {
			return Value{}, fmt.Errorf("type %s: member %d out of bounds", t, i)
		}
		v, err := decode(mt, data[start:end], depth+1)
		if err != nil {
			return Value{}, err
		}
		out.children = append(out.children, v)
		start = end
	}
	return out, nil
}
