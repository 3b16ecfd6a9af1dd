package esp_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat16"

	"github.com/genai-os/genai-build/internal/esp"
	"github.com/genai-os/genai-build/internal/fstree"
)

var sourceDate = time.Date(2025, 6, 1, 12, 30, 44, 0, time.UTC)

func content(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

func loaders(t *testing.T, shim, grub int) (*fstree.Tree, map[string][]byte) {
	t.Helper()
	want := map[string][]byte{
		"EFI/BOOT/BOOTX64.EFI": content(shim, 1),
		"EFI/BOOT/grubx64.efi": content(grub, 2),
		"EFI/BOOT/empty.cfg":   {},
	}
	tr := fstree.New()
	for p, d := range want {
		if err := tr.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	return tr, want
}

func readBack(t *testing.T, img []byte) *fat16.FileSystem {
	t.Helper()
	path := filepath.Join(t.TempDir(), "esp.img")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := file.OpenFromPath(path, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	fsys, err := fat16.Read(b, int64(len(img)), 0, 512)
	if err != nil {
		t.Fatalf("reading the image back: %v", err)
	}
	return fsys
}

func TestBuildReadBack(t *testing.T) {
	tr, want := loaders(t, 1_000_000, 2_500_000)
	img, err := esp.Build(tr, sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	if len(img)%2048 != 0 {
		t.Errorf("size %d is not a whole number of 2048-byte blocks", len(img))
	}
	if len(img) > 8<<20 {
		t.Errorf("image of %d bytes is much bigger than its 3.5 MB of files", len(img))
	}
	if string(img[0x36:0x3E]) != "FAT16   " {
		t.Errorf("file system type %q", img[0x36:0x3E])
	}
	fsys := readBack(t, img)
	for p, data := range want {
		f, err := fsys.OpenFile("/"+p, os.O_RDONLY)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := io.ReadAll(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes read back, want %d equal bytes", p, len(got), len(data))
		}
	}
	entries, err := fsys.ReadDir("EFI/BOOT")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if !info.ModTime().Equal(sourceDate.Truncate(2 * time.Second)) {
			t.Errorf("%s: mtime %v, want %v", e.Name(), info.ModTime(), sourceDate)
		}
	}
}

func TestDeterministic(t *testing.T) {
	tr, _ := loaders(t, 30_000, 70_000)
	a, err := esp.Build(tr, sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	// go-diskfs reads the clock (2-second FAT resolution) and SOURCE_DATE_EPOCH: change both.
	time.Sleep(2100 * time.Millisecond)
	t.Setenv("SOURCE_DATE_EPOCH", "12345")
	b, err := esp.Build(tr, sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(a) != sha256.Sum256(b) {
		t.Fatal("two builds of the same tree differ")
	}
	c, err := esp.Build(tr, sourceDate.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Error("sourceDate does not reach the image")
	}
}

func TestSizes(t *testing.T) {
	small := fstree.New()
	if err := small.Add(fstree.Entry{Path: "EFI/BOOT/x", Kind: fstree.File, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	n, err := esp.Size(small)
	if err != nil {
		t.Fatal(err)
	}
	if n < 4085*1024 || n > 5<<20 || n%2048 != 0 {
		t.Errorf("minimum size %d", n)
	}
	// Past 32 MB go-diskfs switches to 2 KiB clusters; the sizing must follow.
	big, _ := loaders(t, 20<<20, 30<<20)
	img, err := esp.Build(big, sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(readBack(t, img), "EFI/BOOT/grubx64.efi"); err != nil {
		t.Error(err)
	}
}

func TestSymlinkRefused(t *testing.T) {
	tr := fstree.New()
	if err := tr.Add(fstree.Entry{Path: "EFI/l", Kind: fstree.Symlink, Target: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := esp.Build(tr, sourceDate); err == nil {
		t.Error("symlink accepted")
	}
}
