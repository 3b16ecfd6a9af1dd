// Package abtest makes the ESPs of A/B boot-state tests the way the disk-image output does
// (internal/esp, FAT16), so the tests of internal/ab, genai-update and the init read and write
// the same file system a device has. It does not import internal/ab: ab's own tests use it.
package abtest

import (
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/esp"
	"github.com/genai-os/genai-build/internal/fstree"
)

// ESP returns a FAT16 ESP image of size bytes holding files (path in the ESP → content).
func ESP(t testing.TB, size int64, files map[string][]byte) []byte {
	t.Helper()
	tree := fstree.New()
	for p, data := range files {
		if err := tree.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: data, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
	}
	img, err := esp.BuildSized(tree, size, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
