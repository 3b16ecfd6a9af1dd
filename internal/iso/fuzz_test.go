package iso

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzBootCatalog feeds arbitrary images to the El Torito and MBR readers of `genai-build inspect`
// (which reads whatever file the user names): they return entries or an error, never panic.
func FuzzBootCatalog(f *testing.F) {
	img := make([]byte, 20*BlockSize)
	brvd := img[17*BlockSize:]
	copy(brvd[1:], "CD001")
	brvd[6] = 1
	copy(brvd[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(brvd[0x47:], 19)
	cat := img[19*BlockSize:]
	cat[0], cat[0x1E], cat[0x1F] = 1, 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	binary.LittleEndian.PutUint16(cat[0x1C:], -sum)
	cat[32] = 0x88
	cat[64], cat[65], cat[66] = 0x91, 0xEF, 1
	f.Add(img)
	f.Add(img[:18*BlockSize])
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "x.iso")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		_, _ = bootCatalog(fh)
		if len(data) >= 512 {
			_ = partitions(data[:512])
		}
	})
}
