package gpt

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	dgpt "github.com/diskfs/go-diskfs/partition/gpt"
)

const (
	mib = 1 << 20
	ss  = 512
)

// image writes a GPT disk image of size bytes with go-diskfs (the writer the image builder uses):
// the contract's four partitions, the data partition last and small.
func image(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	st, err := file.CreateFromPath(p, size)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mb := uint64(mib / ss)
	tab := &dgpt.Table{LogicalSectorSize: ss, PhysicalSectorSize: ss, ProtectiveMBR: true, Partitions: []*dgpt.Partition{
		{Index: 1, Start: 1 * mb, End: 3*mb - 1, Type: dgpt.EFISystemPartition, Name: "genai-esp"},
		{Index: 2, Start: 3 * mb, End: 5*mb - 1, Type: dgpt.LinuxFilesystem, Name: "genai-a"},
		{Index: 3, Start: 5 * mb, End: 7*mb - 1, Type: dgpt.LinuxFilesystem, Name: "genai-b"},
		{Index: 4, Start: 7 * mb, End: 8*mb - 1, Type: dgpt.LinuxFilesystem, Name: "genai-data"},
	}}
	w, err := st.Writable()
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Write(w, size); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) (*os.File, *Table) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	tab, err := Read(f, fi.Size(), ss)
	if err != nil {
		t.Fatal(err)
	}
	return f, tab
}

func TestGrowOnImageFile(t *testing.T) {
	p := image(t, 9*mib)
	// The image written to a bigger disk: the backup table is no longer at its end.
	if err := os.Truncate(p, 64*mib); err != nil {
		t.Fatal(err)
	}
	f, tab := readFile(t, p)
	data, ok := tab.Find("genai-data")
	if !ok || data.Index != 3 || data.End != 8*mib/ss-1 {
		t.Fatalf("genai-data %+v found=%v", data, ok)
	}
	grown, err := tab.GrowToEnd(data.Index)
	if err != nil || !grown {
		t.Fatalf("grow: %v %v", grown, err)
	}
	const marker = 1 << 48
	tab.SetAttributes(data.Index, marker)
	if err := tab.Write(f); err != nil {
		t.Fatal(err)
	}
	if err := FixProtectiveMBR(f, 64*mib, ss); err != nil {
		t.Fatal(err)
	}

	// go-diskfs reads the result (both CRCs) and finds the backup at the disk's end.
	st := file.New(f, false)
	dt, err := dgpt.Read(st, ss, ss)
	if err != nil {
		t.Fatal(err)
	}
	if err := dt.Verify(st, 64*mib); err != nil {
		t.Fatalf("go-diskfs Verify: %v", err)
	}
	wantEnd := uint64(64*mib/ss - 1 - 32 - 1) // last LBA, 32 sectors of entries, the header
	last := dt.Partitions[3]
	if last.Name != "genai-data" || last.End != wantEnd || last.Attributes != marker {
		t.Fatalf("after grow: %+v, want end %d attributes %#x", last, wantEnd, uint64(marker))
	}
	if dt.Partitions[2].End != 7*mib/ss-1 {
		t.Fatalf("genai-b moved: %+v", dt.Partitions[2])
	}
	// Our own reader: the backup alone is valid too.
	if _, err := f.WriteAt(make([]byte, ss), 1*ss); err != nil {
		t.Fatal(err)
	}
	_, back := readFile(t, p)
	if !back.FromBackup {
		t.Fatal("primary zeroed, yet not read from the backup")
	}
	if e, _ := back.Find("genai-data"); e.End != wantEnd || e.Attributes != marker {
		t.Fatalf("backup: %+v", e)
	}
	// Grown again: nothing to do.
	if g, err := back.GrowToEnd(3); g || err != nil {
		t.Fatalf("second grow: %v %v", g, err)
	}
}

func TestGrowRefusesInnerPartition(t *testing.T) {
	p := image(t, 9*mib)
	if err := os.Truncate(p, 16*mib); err != nil {
		t.Fatal(err)
	}
	_, tab := readFile(t, p)
	b, _ := tab.Find("genai-b")
	if _, err := tab.GrowToEnd(b.Index); err == nil {
		t.Fatal("grew a partition with another after it")
	}
}

// cutWriter stops writing after n writes, as a power cut would.
type cutWriter struct {
	f *os.File
	n int
}

var errCut = errors.New("power cut")

func (c *cutWriter) WriteAt(b []byte, off int64) (int, error) {
	if c.n == 0 {
		return 0, errCut
	}
	c.n--
	return c.f.WriteAt(b, off)
}
func (c *cutWriter) Sync() error { return c.f.Sync() }

// TestPowerCut cuts the write after each of its steps: the table read afterwards is always
// valid, and either the old one or the new one.
func TestPowerCut(t *testing.T) {
	for n := 0; n <= 4; n++ {
		p := image(t, 9*mib)
		if err := os.Truncate(p, 32*mib); err != nil {
			t.Fatal(err)
		}
		f, tab := readFile(t, p)
		old, _ := tab.Find("genai-data")
		if _, err := tab.GrowToEnd(old.Index); err != nil {
			t.Fatal(err)
		}
		err := tab.Write(&cutWriter{f: f, n: n})
		if (n < 4) != errors.Is(err, errCut) {
			t.Fatalf("cut after %d writes: %v", n, err)
		}
		_, after := readFile(t, p)
		e, _ := after.Find("genai-data")
		// Before the primary's entries are written the old primary is read; after them (its
		// header now fails its entries' CRC32) the new backup at the disk's end, as the kernel does.
		switch {
		case n < 3 && (e.End != old.End || after.FromBackup):
			t.Errorf("cut after %d writes: %+v (from backup %v), want the old table %+v", n, e, after.FromBackup, old)
		case n == 3 && (e.End != after.EndUsable() || !after.FromBackup):
			t.Errorf("cut after %d writes: %+v (from backup %v), want the new backup", n, e, after.FromBackup)
		case n == 4 && (e.End != after.EndUsable() || after.FromBackup):
			t.Errorf("whole write: %+v, want end %d from the primary", e, after.EndUsable())
		}
	}
}
