package datapart

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	dgpt "github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/genai-os/genai-build/initramfs/gpt"
)

const mib = 1 << 20

// image is a disk image as the image writer leaves it (4 partitions, genai-data last and small),
// written to a disk of diskSize bytes.
func image(t *testing.T, diskSize int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	st, err := file.CreateFromPath(p, 12*mib)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mb := uint64(mib / 512)
	tab := &dgpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true, Partitions: []*dgpt.Partition{
		{Index: 1, Start: 1 * mb, End: 3*mb - 1, Type: dgpt.EFISystemPartition, Name: "genai-esp"},
		{Index: 2, Start: 3 * mb, End: 5*mb - 1, Type: dgpt.LinuxFilesystem, Name: "genai-a"},
		{Index: 3, Start: 5 * mb, End: 7*mb - 1, Type: dgpt.LinuxFilesystem, Name: "genai-b"},
		{Index: 4, Start: 7 * mb, End: 11*mb - 1, Type: dgpt.LinuxFilesystem, Name: "genai-data"},
	}}
	w, err := st.Writable()
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Write(w, 12*mib); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, diskSize); err != nil {
		t.Fatal(err)
	}
	return p
}

// mke2fs makes ext4 with Debian's mke2fs, as the init does, inside the image at offset.
func mke2fs(t *testing.T, img string) func(offset, size int64) error {
	return func(offset, size int64) error {
		out, err := exec.Command("mke2fs", "-F", "-q", "-t", "ext4", "-L", "genai-data",
			"-E", fmt.Sprintf("offset=%d", offset), img, fmt.Sprintf("%dk", size/1024)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
}

// ext4At reads the ext4 superblock at offset (1024 bytes in; s_magic 0xEF53 at 0x38,
// s_blocks_count_lo at 0x4, s_log_block_size at 0x18, s_volume_name at 0x78).
func ext4At(t *testing.T, img string, offset int64) (size int64, label string, ok bool) {
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, offset+1024); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xEF53 {
		return 0, "", false
	}
	blocks := int64(binary.LittleEndian.Uint32(sb[4:]))
	return blocks << (10 + binary.LittleEndian.Uint32(sb[0x18:])), string(bytes.TrimRight(sb[0x78:0x88], "\x00")), true
}

func TestPrepareFirstBootThenAgain(t *testing.T) {
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Fatalf("mke2fs (e2fsprogs) is needed: %v", err)
	}
	img := image(t, 64*mib)
	o := Options{Disk: img, Name: "genai-data", Mkfs: mke2fs(t, img)}
	r, err := Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(64*mib - 7*mib - 33*512) // to the last usable LBA: 33 sectors of backup after it
	if !r.Grown || !r.Formatted || r.Size != want {
		t.Fatalf("first boot: %+v, want grown and formatted, %d bytes", r, want)
	}
	size, label, ok := ext4At(t, img, 7*mib)
	if !ok || label != "genai-data" || size > want || size < want-4096 {
		t.Fatalf("ext4 at the partition: ok=%v label=%q size=%d, want about %d", ok, label, size, want)
	}
	// Every later boot: nothing is done, mkfs is never run again.
	o.Mkfs = func(int64, int64) error { t.Fatal("mkfs run on a formatted partition"); return nil }
	r, err = Prepare(o)
	if err != nil || r.Grown || r.Formatted || r.Size != want {
		t.Fatalf("second boot: %+v %v", r, err)
	}
	// A formatted partition on a disk that got bigger is left as it is (the file system is not grown).
	if err := os.Truncate(img, 80*mib); err != nil {
		t.Fatal(err)
	}
	if r, err = Prepare(o); err != nil || r.Grown || r.Size != want {
		t.Fatalf("bigger disk: %+v %v", r, err)
	}
}

// TestPrepareCutInMkfs: a power cut during mkfs (it never returned) leaves the partition
// unmarked: the next boot runs mkfs again on the grown partition, and only then is it marked.
func TestPrepareCutInMkfs(t *testing.T) {
	img := image(t, 32*mib)
	cut := errors.New("power cut")
	r, err := Prepare(Options{Disk: img, Name: "genai-data", Mkfs: func(off, size int64) error {
		// half a file system: what a cut leaves
		f, _ := os.OpenFile(img, os.O_RDWR, 0)
		defer f.Close()
		f.WriteAt(bytes.Repeat([]byte{0xAB}, 4096), off)
		return cut
	}})
	if !errors.Is(err, cut) {
		t.Fatalf("first boot: %+v %v", r, err)
	}
	runs := 0
	mk := mke2fs(t, img)
	r, err = Prepare(Options{Disk: img, Name: "genai-data", Mkfs: func(off, size int64) error { runs++; return mk(off, size) }})
	if err != nil || r.Grown || !r.Formatted || runs != 1 {
		t.Fatalf("after the cut: %+v %v runs=%d, want formatted again (already grown)", r, err, runs)
	}
	if _, label, ok := ext4At(t, img, 7*mib); !ok || label != "genai-data" {
		t.Fatal("no ext4 after the second boot")
	}
}

func TestPrepareNoDataPartition(t *testing.T) {
	img := image(t, 16*mib)
	if _, err := Prepare(Options{Disk: img, Name: "genai-home", Mkfs: mke2fs(t, img)}); err == nil {
		t.Fatal("no error for a missing partition")
	}
}

// TestPrepareCutBeforeMBR: the grown table was written but the cut came before the protective
// MBR's size: the next boot, finding the table grown, still sets it.
func TestPrepareCutBeforeMBR(t *testing.T) {
	img := image(t, 32*mib)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gpt.Read(f, 32*mib, 512)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := tab.Find("genai-data")
	if _, err := tab.GrowToEnd(e.Index); err != nil {
		t.Fatal(err)
	}
	if err := tab.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := mbrSize(t, img); got != 12*mib/512-1 {
		t.Fatalf("MBR size before: %d", got)
	}
	r, err := Prepare(Options{Disk: img, Name: "genai-data", Mkfs: mke2fs(t, img)})
	if err != nil || r.Grown || !r.Formatted {
		t.Fatalf("%+v %v", r, err)
	}
	if got := mbrSize(t, img); got != 32*mib/512-1 {
		t.Errorf("protective MBR's size %d, want the disk's sectors minus one, %d", got, 32*mib/512-1)
	}
}

// mbrSize is the SizeInLBA of the protective MBR's first record (offset 446+12).
func mbrSize(t *testing.T, img string) uint32 {
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint32(b[446+12:])
}
