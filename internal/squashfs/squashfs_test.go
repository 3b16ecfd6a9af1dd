package squashfs_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/squashfs"
)

// The images are checked with squashfs-tools' unsquashfs, a reader nobody here wrote. Debian's
// package squashfs-tools has it; .ci/run installs it.
func needUnsquashfs(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("unsquashfs")
	if err != nil {
		t.Skip("unsquashfs (Debian package squashfs-tools) is not installed")
	}
	return p
}

var sourceDate = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func add(t *testing.T, tree *fstree.Tree, e fstree.Entry) {
	t.Helper()
	if err := tree.Add(e); err != nil {
		t.Fatal(err)
	}
}

// pattern is n bytes that zstd compresses a little but not to nothing.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1103515245 + 12345
		b[i] = byte(x>>16) & 0x3f
	}
	return b
}

// mixedTree holds every kind of entry the writer supports, with owners, modes, times and xattrs
// that differ from what the host would give.
func mixedTree(t *testing.T, blockSize int) *fstree.Tree {
	t.Helper()
	tree := fstree.New()
	dir := t.TempDir()
	src := filepath.Join(dir, "from-host")
	if err := os.WriteFile(src, pattern(3*blockSize+517, 7), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 5, 17, 8, 30, 0, 0, time.UTC)
	add(t, tree, fstree.Entry{Path: "etc", Kind: fstree.Dir, Mode: 0o755, MTime: old})
	add(t, tree, fstree.Entry{Path: "etc/shadow", Kind: fstree.File, Mode: 0o640, GID: 42, Data: []byte("root:*:19000:0:99999:7:::\n")})
	add(t, tree, fstree.Entry{Path: "etc/empty", Kind: fstree.File, Mode: 0o644, MTime: old})
	add(t, tree, fstree.Entry{Path: "etc/same-as-shadow", Kind: fstree.File, Mode: 0o600, UID: 7, Data: []byte("root:*:19000:0:99999:7:::\n")})
	add(t, tree, fstree.Entry{Path: "data/one-block", Kind: fstree.File, Mode: 0o644, UID: 1000, GID: 1000, Data: pattern(blockSize, 1)})
	add(t, tree, fstree.Entry{Path: "data/block-and-tail", Kind: fstree.File, Mode: 0o644, Data: pattern(blockSize+100, 2)})
	add(t, tree, fstree.Entry{Path: "data/host", Kind: fstree.File, Mode: 0o755, UID: 65534, GID: 65534, Source: src})
	add(t, tree, fstree.Entry{Path: "data/random", Kind: fstree.File, Mode: 0o644, Data: random(2*blockSize + 3)})
	add(t, tree, fstree.Entry{Path: "data/zeros-then-data", Kind: fstree.File, Mode: 0o644, Data: append(make([]byte, 2*blockSize), pattern(blockSize, 3)...)})
	for i := range 40 {
		add(t, tree, fstree.Entry{Path: fmt.Sprintf("data/small/%02d", i), Kind: fstree.File, Mode: 0o644, Data: pattern(100*i+1, byte(i))})
	}
	// perl-style hard links: three names, one inode, in two directories.
	add(t, tree, fstree.Entry{Path: "usr/bin/perl5.40", Kind: fstree.File, Mode: 0o755, Data: pattern(blockSize/2, 9)})
	add(t, tree, fstree.Entry{Path: "usr/bin/perl", Kind: fstree.Hardlink, Target: "usr/bin/perl5.40"})
	add(t, tree, fstree.Entry{Path: "usr/lib/perl-again", Kind: fstree.Hardlink, Target: "/usr/bin/perl"})
	add(t, tree, fstree.Entry{Path: "usr/bin/sudo", Kind: fstree.File, Mode: 0o755 | fs.ModeSetuid, Data: []byte("sudo")})
	add(t, tree, fstree.Entry{Path: "usr/bin/ping", Kind: fstree.File, Mode: 0o755, Data: []byte("ping"),
		Xattrs: map[string][]byte{"security.capability": capNetRaw}})
	add(t, tree, fstree.Entry{Path: "usr/bin/arping", Kind: fstree.File, Mode: 0o755, Data: []byte("arping"),
		Xattrs: map[string][]byte{"security.capability": capNetRaw, "user.origin": []byte("iputils")}})
	add(t, tree, fstree.Entry{Path: "usr/share", Kind: fstree.Dir, Mode: 0o755, Xattrs: map[string][]byte{"user.dir": []byte("yes")}})
	add(t, tree, fstree.Entry{Path: "tmp", Kind: fstree.Dir, Mode: 0o1777})
	add(t, tree, fstree.Entry{Path: "dev/console", Kind: fstree.CharDev, Mode: 0o600, Major: 5, Minor: 1})
	add(t, tree, fstree.Entry{Path: "dev/sda1", Kind: fstree.BlockDev, Mode: 0o660, GID: 6, Major: 8, Minor: 1})
	add(t, tree, fstree.Entry{Path: "dev/big-minor", Kind: fstree.CharDev, Mode: 0o600, Major: 240, Minor: 70000})
	add(t, tree, fstree.Entry{Path: "dev/initctl", Kind: fstree.FIFO, Mode: 0o600})
	add(t, tree, fstree.Entry{Path: "run/socket", Kind: fstree.Socket, Mode: 0o666})
	add(t, tree, fstree.Entry{Path: "link/short", Kind: fstree.Symlink, Mode: 0o777, Target: "../etc/shadow"})
	add(t, tree, fstree.Entry{Path: "link/long", Kind: fstree.Symlink, Mode: 0o777, Target: strings.Repeat("long/", 800) + "end"})
	add(t, tree, fstree.Entry{Path: "link/with-xattr", Kind: fstree.Symlink, Mode: 0o777, Target: "x", Xattrs: map[string][]byte{"trusted.t": []byte("1")}})
	deep := "deep"
	for i := range 60 {
		deep += fmt.Sprintf("/level%d", i)
	}
	add(t, tree, fstree.Entry{Path: deep + "/bottom", Kind: fstree.File, Mode: 0o644, Data: []byte("bottom\n")})
	return tree
}

// capNetRaw is a VFS_CAP_REVISION_2 security.capability granting cap_net_raw (as setcap writes).
var capNetRaw = []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func random(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func build(t *testing.T, tree *fstree.Tree, opts squashfs.Options) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "root.squashfs")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := squashfs.Write(f, tree, opts)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != n || n%4096 != 0 {
		t.Fatalf("image is %d bytes, Write said %d; want the same, a multiple of 4096", fi.Size(), n)
	}
	return img
}

// line is one entry as `unsquashfs -lln` prints it.
type line struct {
	mode, owner, size, mtime, target string
}

var llnLine = regexp.MustCompile(`^(\S{10}) (\d+/\d+) +(\d+|\d+, *\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(/[^ ]*)?(?: -> (.*))?$`)

func listing(t *testing.T, img string) map[string]line {
	t.Helper()
	cmd := exec.Command(needUnsquashfs(t), "-lln", img)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unsquashfs -lln: %v\n%s", err, out)
	}
	got := map[string]line{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := llnLine.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("unsquashfs -lln printed an unexpected line: %q", sc.Text())
		}
		got[strings.TrimPrefix(m[5], "/")] = line{mode: m[1], owner: m[2], size: strings.ReplaceAll(m[3], " ", ""), mtime: m[4], target: m[6]}
	}
	return got
}

// lsMode is the mode column of ls -l and unsquashfs -lln.
func lsMode(k fstree.Kind, perm uint32) string {
	typ := map[fstree.Kind]byte{fstree.Dir: 'd', fstree.File: '-', fstree.Symlink: 'l', fstree.CharDev: 'c',
		fstree.BlockDev: 'b', fstree.FIFO: 'p', fstree.Socket: 's'}[k]
	s := []byte{typ}
	for i, c := range "rwxrwxrwx" {
		if perm&(1<<(8-i)) != 0 {
			s = append(s, byte(c))
		} else {
			s = append(s, '-')
		}
	}
	special := func(bit uint32, at int, lower, upper byte) {
		if perm&bit != 0 {
			if s[at] == 'x' {
				s[at] = lower
			} else {
				s[at] = upper
			}
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(s)
}

// resolved is the entry whose inode a hard link shares.
func resolved(tree *fstree.Tree, e *fstree.Entry) *fstree.Entry {
	for e.Kind == fstree.Hardlink {
		e, _ = tree.Get(e.Target)
	}
	return e
}

func wantTime(e *fstree.Entry) time.Time {
	if !e.MTime.IsZero() && e.MTime.Before(sourceDate) {
		return e.MTime
	}
	return sourceDate
}

// checkListing compares `unsquashfs -lln` with the tree: the same names and, for each, the
// type, mode, owner, size (or device numbers), time and symlink target.
func checkListing(t *testing.T, tree *fstree.Tree, img string) {
	t.Helper()
	got := listing(t, img)
	root, ok := got[""]
	if !ok || root.mode != "drwxr-xr-x" || root.owner != "0/0" {
		t.Errorf("root: %+v, want drwxr-xr-x 0/0", root)
	}
	delete(got, "")
	for _, e := range tree.Entries() {
		g, ok := got[e.Path]
		if !ok {
			t.Errorf("%s: not listed", e.Path)
			continue
		}
		delete(got, e.Path)
		r := resolved(tree, e)
		want := line{mode: lsMode(r.Kind, r.PermBits()), owner: fmt.Sprintf("%d/%d", r.UID, r.GID),
			mtime: wantTime(r).UTC().Format("2006-01-02 15:04"), size: g.size}
		switch r.Kind {
		case fstree.File:
			want.size = strconv.FormatInt(r.Size, 10)
		case fstree.Symlink:
			want.size, want.target = strconv.Itoa(len(r.Target)), r.Target
		case fstree.CharDev, fstree.BlockDev:
			if r.Minor < 256 { // 4.5.1 prints a larger minor's high bits in the major column
				want.size = fmt.Sprintf("%d,%d", r.Major, r.Minor)
			}
		case fstree.FIFO, fstree.Socket:
			want.size = "0"
		}
		if g != want {
			t.Errorf("%s:\n got %+v\nwant %+v", e.Path, g, want)
		}
	}
	for p := range got {
		t.Errorf("%s: listed, not in the tree", p)
	}
}

// extract runs unsquashfs -d as the user running the tests; as root it keeps owners and xattrs.
func extract(t *testing.T, img string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "x")
	out, err := exec.Command(needUnsquashfs(t), "-no-progress", "-d", dir, img).CombinedOutput()
	if err != nil {
		t.Fatalf("unsquashfs -d: %v\n%s", err, out)
	}
	return dir
}

var bufA, bufB = make([]byte, 1<<20), make([]byte, 1<<20)

func sameContent(t *testing.T, a, b io.Reader) bool {
	t.Helper()
	ba, bb := bufA, bufB
	for {
		na, erra := io.ReadFull(a, ba)
		nb, errb := io.ReadFull(b, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if erra != nil || errb != nil {
			return (erra == io.EOF || erra == io.ErrUnexpectedEOF) && (errb == io.EOF || errb == io.ErrUnexpectedEOF)
		}
	}
}

// checkExtracted compares what unsquashfs extracted with the tree: contents, link targets,
// device numbers, hard links (one inode, the right link count), and, as root, owners and xattrs.
func checkExtracted(t *testing.T, tree *fstree.Tree, dir string) {
	t.Helper()
	root := os.Geteuid() == 0
	inodes := map[string]uint64{} // resolved path -> extracted inode number
	links := map[string]int{}
	for _, e := range tree.Entries() {
		if e.Kind == fstree.Hardlink {
			links[resolved(tree, e).Path]++
		}
	}
	for _, e := range tree.Entries() {
		p := filepath.Join(dir, e.Path)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Errorf("%s: %v", e.Path, err)
			continue
		}
		r := resolved(tree, e)
		if prev, ok := inodes[r.Path]; ok && prev != st.Ino {
			t.Errorf("%s: a separate file, not a hard link of %s", e.Path, r.Path)
		}
		inodes[r.Path] = st.Ino
		if r.Kind == fstree.File && int(st.Nlink) != 1+links[r.Path] {
			t.Errorf("%s: %d links, want %d", e.Path, st.Nlink, 1+links[r.Path])
		}
		if root && (int(st.Uid) != r.UID || int(st.Gid) != r.GID) {
			t.Errorf("%s: owner %d:%d, want %d:%d", e.Path, st.Uid, st.Gid, r.UID, r.GID)
		}
		if r.Kind != fstree.Symlink && (st.Mode&0o7777 != r.PermBits()) {
			t.Errorf("%s: mode %o, want %o", e.Path, st.Mode&0o7777, r.PermBits())
		}
		switch r.Kind {
		case fstree.File:
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := r.Open()
			if err != nil {
				t.Fatal(err)
			}
			if !sameContent(t, f, rc) {
				t.Errorf("%s: extracted content differs from the tree", e.Path)
			}
			f.Close()
			rc.Close()
		case fstree.Symlink:
			if got, err := os.Readlink(p); err != nil || got != r.Target {
				t.Errorf("%s: link to %q (%v), want %q", e.Path, got, err, r.Target)
			}
		case fstree.CharDev, fstree.BlockDev:
			if !root {
				break
			}
			typ := uint32(unix.S_IFCHR)
			if r.Kind == fstree.BlockDev {
				typ = unix.S_IFBLK
			}
			if st.Mode&unix.S_IFMT != typ || unix.Major(st.Rdev) != r.Major || unix.Minor(st.Rdev) != r.Minor {
				t.Errorf("%s: mode %o device %d:%d, want a %s %d:%d", e.Path, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), r.Kind, r.Major, r.Minor)
			}
		case fstree.FIFO:
			if st.Mode&unix.S_IFMT != unix.S_IFIFO {
				t.Errorf("%s: mode %o, want a fifo", e.Path, st.Mode)
			}
		}
		if root && r.Kind != fstree.Symlink { // Linux keeps no user. xattrs on symlinks
			for name, want := range r.Xattrs {
				buf := make([]byte, 256)
				n, err := unix.Lgetxattr(p, name, buf)
				if err != nil || !bytes.Equal(buf[:n], want) {
					t.Errorf("%s: xattr %s = %x (%v), want %x", e.Path, name, buf[:max(n, 0)], err, want)
				}
			}
		}
	}
}

func TestMixedTree(t *testing.T) {
	for _, bs := range []int{4 << 10, 128 << 10, 1 << 20} {
		t.Run(strconv.Itoa(bs), func(t *testing.T) {
			tree := mixedTree(t, bs)
			img := build(t, tree, squashfs.Options{BlockSize: bs, SourceDate: sourceDate, Workers: 3})
			checkListing(t, tree, img)
			checkExtracted(t, tree, extract(t, img))
		})
	}
}

// A directory of 10,000 entries needs many directory headers and an extended directory inode
// (its listing is over 64 KiB). 1,000 hard links of one file share one inode, so only the limit
// of 256 entries per header (SQUASHFS_DIR_COUNT) splits their listing.
func TestTenThousandFiles(t *testing.T) {
	tree := fstree.New()
	for i := range 10000 {
		add(t, tree, fstree.Entry{Path: fmt.Sprintf("many/file-%05d", i), Kind: fstree.File, Mode: 0o644, UID: i % 3, Data: []byte(strconv.Itoa(i) + "\n")})
	}
	for i := range 1000 {
		add(t, tree, fstree.Entry{Path: fmt.Sprintf("links/%04d", i), Kind: fstree.Hardlink, Target: "many/file-00042"})
	}
	add(t, tree, fstree.Entry{Path: "many/sub", Kind: fstree.Dir, Mode: 0o700})
	img := build(t, tree, squashfs.Options{SourceDate: sourceDate})
	checkListing(t, tree, img)
	checkExtracted(t, tree, extract(t, img))
}

// A 1 GB file with one block of data in the middle, read from a sparse host file: the holes
// are found with SEEK_DATA, not read, and stored as sparse blocks (size 0 in the block list).
func TestSparseGigabyte(t *testing.T) {
	const size = 1 << 30
	src := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(pattern(200<<10, 5), size/2+1000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tree := fstree.New()
	add(t, tree, fstree.Entry{Path: "var/lib/sparse.img", Kind: fstree.File, Mode: 0o600, Source: src})
	add(t, tree, fstree.Entry{Path: "var/lib/zeros-in-memory", Kind: fstree.File, Mode: 0o600, Data: make([]byte, 1<<20)})
	opts := squashfs.Options{SourceDate: sourceDate, Workers: 2}
	base := allocated(func() { build(t, fstree.New(), opts) }) // the encoders' own tables
	start := time.Now()
	var img string
	alloc := allocated(func() { img = build(t, tree, opts) })
	took := time.Since(start)
	if alloc > base+16<<20 {
		t.Errorf("writing a sparse 1 GB file allocated %d MB more than an empty tree; want it streamed", (alloc-base)>>20)
	}
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 1<<20 {
		t.Errorf("image of a sparse 1 GB file is %d bytes; want the holes stored as sparse blocks", fi.Size())
	}
	t.Logf("1 GB sparse file: image %d bytes, written in %s", fi.Size(), took)
	checkListing(t, tree, img)
	checkExtracted(t, tree, extract(t, img))
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The same tree gives the same bytes, whatever the number of workers.
func TestDeterministic(t *testing.T) {
	tree := mixedTree(t, 128<<10)
	a, err := os.ReadFile(build(t, tree, squashfs.Options{SourceDate: sourceDate, Workers: 1}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(build(t, mixedTree(t, 128<<10), squashfs.Options{SourceDate: sourceDate, Workers: 4}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same tree differ")
	}
}

func TestEmptyTree(t *testing.T) {
	img := build(t, fstree.New(), squashfs.Options{RootMode: 0o700, RootUID: 5, RootGID: 6})
	got := listing(t, img)
	if r := got[""]; len(got) != 1 || r.mode != "drwx------" || r.owner != "5/6" || r.mtime != "1970-01-01 00:00" {
		t.Errorf("listing of an empty tree: %+v", got)
	}
}

func TestRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		entry fstree.Entry
		want  string
	}{
		{"hard link to nothing", fstree.Entry{Path: "a", Kind: fstree.Hardlink, Target: "missing"}, "not in the tree"},
		{"hard link to a directory", fstree.Entry{Path: "a", Kind: fstree.Hardlink, Target: "d"}, "directory"},
		{"long symlink", fstree.Entry{Path: "a", Kind: fstree.Symlink, Target: strings.Repeat("x", 4097)}, "too large"},
		{"long name", fstree.Entry{Path: strings.Repeat("n", 257), Kind: fstree.FIFO}, "too large"},
		{"device major", fstree.Entry{Path: "a", Kind: fstree.CharDev, Major: 4096}, "too large"},
		{"acl xattr", fstree.Entry{Path: "a", Kind: fstree.FIFO, Xattrs: map[string][]byte{"system.posix_acl_access": nil}}, "only user."},
		{"time", fstree.Entry{Path: "a", Kind: fstree.FIFO, MTime: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, "u32 seconds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tree := fstree.New()
			add(t, tree, fstree.Entry{Path: "d", Kind: fstree.Dir, Mode: 0o755})
			add(t, tree, c.entry)
			_, err := squashfs.Write(nopWriterAt{}, tree, squashfs.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			if c.want == "too large" && !errors.Is(err, squashfs.ErrTooLarge) {
				t.Errorf("error %v is not ErrTooLarge", err)
			}
		})
	}
}

type nopWriterAt struct{}

func (nopWriterAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// A source that changed since the tree was built is an error, not a corrupt image.
func TestSourceChanged(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := fstree.New()
	add(t, tree, fstree.Entry{Path: "f", Kind: fstree.File, Mode: 0o644, Source: src})
	if err := os.WriteFile(src, []byte("hello, world"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := squashfs.Write(nopWriterAt{}, tree, squashfs.Options{}); err == nil || !strings.Contains(err.Error(), "source changed") {
		t.Fatalf("error %v, want the source changed", err)
	}
}
