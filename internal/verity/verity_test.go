package verity

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/genai-os/genai-build/initramfs/dm"
)

// The golden values are veritysetup's (testdata/README says how they were made).
const (
	goldenRoot = "eefec94aa257f15061112febe114835684bb63484ce928c3a5cd709ef861489f"
	goldenSalt = "01af4106f5e8961b53dffa7cc37efe8371283da229c803e5576b85a0ec559a3d"
)

// TestAppendMatchesVeritysetup: Append of the golden input gives veritysetup's root hash, and its
// superblock and tree byte for byte; the data stays, padded with zeros.
func TestAppendMatchesVeritysetup(t *testing.T) {
	in := goldenInput()
	path := filepath.Join(t.TempDir(), "layer")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Append(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(p.RootHash); got != goldenRoot {
		t.Errorf("root hash %s, veritysetup's %s", got, goldenRoot)
	}
	if got := hex.EncodeToString(p.Salt); got != goldenSalt {
		t.Errorf("salt %s, want %s", got, goldenSalt)
	}
	if p.DataBlocks != 256 || p.HashStartBlock != 257 {
		t.Errorf("data blocks %d, hash start %d; want 256, 257", p.DataBlocks, p.HashStartBlock)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := os.ReadFile("testdata/golden-tail.bin")
	if err != nil {
		t.Fatal(err)
	}
	if want := 1<<20 + len(tail); len(out) != want {
		t.Fatalf("file is %d bytes, want %d", len(out), want)
	}
	if !bytes.Equal(out[:len(in)], in) || !bytes.Equal(out[len(in):1<<20], make([]byte, 1<<20-len(in))) {
		t.Error("the data changed, or the padding is not zeros")
	}
	if got := out[1<<20:]; !bytes.Equal(got, tail) {
		for i := range got {
			if got[i] != tail[i] {
				t.Fatalf("superblock and tree differ from veritysetup's at byte %d of %d", i, len(tail))
			}
		}
	}
	q, err := dm.ParseVerityParams(p.String())
	if err != nil || q.String() != p.String() {
		t.Errorf("ParseVerityParams(%q) = %q, %v", p.String(), q.String(), err)
	}
}

// TestAppendDeterministic: the same content gives the same salt and root; other content, another salt.
func TestAppendDeterministic(t *testing.T) {
	dir := t.TempDir()
	var got []string
	for i, data := range [][]byte{[]byte("one layer"), []byte("one layer"), []byte("another layer")} {
		path := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Append(path)
		if err != nil {
			t.Fatal(err)
		}
		if p.DataBlocks != 1 || p.HashStartBlock != 2 {
			t.Errorf("%q: %s, want 1 data block and the tree at block 2", data, p)
		}
		got = append(got, p.String())
	}
	if got[0] != got[1] || got[0] == got[2] {
		t.Errorf("params %q: want the first two equal and the third different", got)
	}
}

func TestAppendEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Append(path); err == nil {
		t.Error("an empty file: want an error")
	}
}

// TestAppendWholeBlocks: the kernel refuses a hash device that ends inside a block ("Hash device is
// too small", E2BIG): a one-block layer, whose tree is only the superblock, is padded too. The
// enterprise edition's system layer is such a layer.
func TestAppendWholeBlocks(t *testing.T) {
	for _, size := range []int{100, 4096, 5000, 3 * 4096} {
		p := filepath.Join(t.TempDir(), "layer")
		if err := os.WriteFile(p, bytes.Repeat([]byte{7}, size), 0o644); err != nil {
			t.Fatal(err)
		}
		vp, err := Append(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size()%BlockSize != 0 || fi.Size() < int64(vp.HashStartBlock)*BlockSize {
			t.Errorf("%d-byte layer: file is %d bytes with the tree at block %d, want whole blocks past it", size, fi.Size(), vp.HashStartBlock)
		}
	}
}
