package verity

import (
	"crypto/sha256"
	"encoding/binary"
)

// goldenSize is the golden input's length: 1 MiB less 100 bytes, so that Append pads it.
const goldenSize = 1<<20 - 100

// goldenInput is the golden test's data: SHA-256 of a counter, block after block, cut to
// goldenSize (pseudo-random, so every hash block differs).
func goldenInput() []byte {
	var out []byte
	var ctr [8]byte
	for i := uint64(0); len(out) < goldenSize; i++ {
		binary.LittleEndian.PutUint64(ctr[:], i)
		s := sha256.Sum256(ctr[:])
		out = append(out, s[:]...)
	}
	return out[:goldenSize]
}
