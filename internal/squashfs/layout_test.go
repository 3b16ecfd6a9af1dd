package squashfs

import (
	"testing"

	"github.com/genai-os/genai-build/internal/fstree"
)

type discard struct{}

func (discard) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

func laidOut(t *testing.T, tree *fstree.Tree, opts Options) *builder {
	t.Helper()
	b, err := newBuilder(discard{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.enc.Close() })
	if err := b.layout(tree); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustAdd(t *testing.T, tree *fstree.Tree, es ...fstree.Entry) {
	t.Helper()
	for _, e := range es {
		if err := tree.Add(e); err != nil {
			t.Fatal(err)
		}
	}
}

// unsquashfs makes hard links itself and ignores the inode's link count; the kernel reports it.
func TestLinkCountsAndNumbers(t *testing.T) {
	tree := fstree.New()
	mustAdd(t, tree,
		fstree.Entry{Path: "a/b/c", Kind: fstree.Dir, Mode: 0o755},
		fstree.Entry{Path: "a/d", Kind: fstree.Dir, Mode: 0o755},
		fstree.Entry{Path: "a/f", Kind: fstree.File, Mode: 0o644, Data: []byte("x")},
		fstree.Entry{Path: "a/b/g", Kind: fstree.Hardlink, Target: "a/f"},
		fstree.Entry{Path: "h", Kind: fstree.Hardlink, Target: "a/b/g"},
	)
	b := laidOut(t, tree, Options{})
	want := map[string]uint32{"": 3, "a": 4, "a/b": 3, "a/b/c": 2, "a/d": 2, "a/f": 3}
	seen := map[uint32]bool{}
	for _, in := range b.order {
		p := in.e.Path
		if n, ok := want[p]; !ok || in.nlink != n {
			t.Errorf("%q: nlink %d, want %d", p, in.nlink, n)
		}
		delete(want, p)
		if in.num < 1 || int(in.num) > len(b.order) || seen[in.num] {
			t.Errorf("%q: inode number %d repeated or outside 1..%d", p, in.num, len(b.order))
		}
		seen[in.num] = true
	}
	if len(want) != 0 {
		t.Errorf("no inode for %v", want)
	}
	if b.root.ino.num != uint32(len(b.order)) {
		t.Errorf("root is inode %d, want the last, %d", b.root.ino.num, len(b.order))
	}
}

// Zero blocks are stored as sparse blocks: 0 in the block list, no bytes in the image; the tail
// goes into a fragment.
func TestSparseBlocks(t *testing.T) {
	const bs = 4096
	data := make([]byte, 5*bs+10)
	copy(data[2*bs:], "not zero")
	tree := fstree.New()
	mustAdd(t, tree, fstree.Entry{Path: "f", Kind: fstree.File, Mode: 0o644, Data: data})
	b := laidOut(t, tree, Options{BlockSize: bs})
	if err := b.writeData(); err != nil {
		t.Fatal(err)
	}
	d := b.files[0].data
	for i, s := range d.sizes {
		if (s == 0) != (i != 2) {
			t.Errorf("block %d stored in %d bytes; want 0 for a zero block only", i, s)
		}
	}
	if len(d.sizes) != 5 || d.sparse != 4*bs || d.frag != 0 || d.fragOff != 0 || len(b.frags) != 1 {
		t.Errorf("got %d blocks, %d sparse bytes, fragment %d at %d, %d fragments; want 5, %d, 0 at 0, 1", len(d.sizes), d.sparse, d.frag, d.fragOff, len(b.frags), 4*bs)
	}
}
