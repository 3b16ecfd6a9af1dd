// Package fstree is the in-memory file tree of an image: every file, directory and symlink that a
// stage puts into the image, with its mode, owner and where it came from. Archive and image writers
// consume a Tree; they never read a shared temporary folder.
package fstree

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Kind is the type of an entry.
type Kind int

const (
	Dir Kind = iota
	File
	Symlink
	// Hardlink is another name for the entry at Target (a tree path): one inode, shared content,
	// mode and owner, as tar's TypeLink. Writers that cannot share inodes refuse it.
	Hardlink
	CharDev  // a character device, Major:Minor
	BlockDev // a block device, Major:Minor
	FIFO
	Socket
)

var kindNames = [...]string{Dir: "dir", File: "file", Symlink: "symlink", Hardlink: "hard link",
	CharDev: "character device", BlockDev: "block device", FIFO: "fifo", Socket: "socket"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Entry is one node of the tree. Paths are clean, slash-separated and relative to the root
// ("etc/os-release", never "/etc/os-release" or "./etc").
type Entry struct {
	Path   string
	Kind   Kind
	Mode   fs.FileMode // permission bits only (0o755, 0o644, ...), plus setuid/setgid/sticky
	UID    int
	GID    int
	Target string // symlink target, for Kind == Symlink; the linked entry's path, for Kind == Hardlink
	// Major and Minor number a device, for Kind == CharDev or BlockDev.
	Major, Minor uint32
	// MTime is the modification time; the zero time means "the build's SourceDate". Writers that
	// store one time for every entry (initrd) ignore it.
	MTime time.Time
	// Xattrs are extended attributes by full name ("security.capability"), for writers that
	// store them (squashfs). Values are raw bytes, as getxattr(2) returns them.
	Xattrs map[string][]byte
	// Exactly one of Data or Source holds a File's content.
	Data   []byte
	Source string // a file on the host whose content is used (read when the tree is written)
	Size   int64  // size of the content, for Kind == File
	Origin string // which recipe, overlay or stage put the entry here (for the build manifest)
}

// PermBits returns the entry's permission bits as st_mode has them (0o7777): Go's setuid, setgid
// and sticky flags (fs.ModeSetuid) and the Unix bits in Mode (0o4755) are both honoured.
func (e *Entry) PermBits() uint32 {
	bits := uint32(e.Mode.Perm()) | uint32(e.Mode)&0o7000
	if e.Mode&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if e.Mode&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if e.Mode&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// Open returns the content of a file entry.
func (e *Entry) Open() (io.ReadCloser, error) {
	if e.Kind != File {
		return nil, fmt.Errorf("%s: not a regular file", e.Path)
	}
	if e.Source != "" {
		return os.Open(e.Source)
	}
	return io.NopCloser(bytes.NewReader(e.Data)), nil
}

// ReadAll returns the whole content of a file entry.
func (e *Entry) ReadAll() ([]byte, error) {
	if e.Source == "" && e.Kind == File {
		return e.Data, nil
	}
	rc, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Tree is a set of entries keyed by path. The zero value is not usable; call New.
type Tree struct {
	entries map[string]*Entry
}

// New returns an empty tree.
func New() *Tree { return &Tree{entries: map[string]*Entry{}} }

// Clean turns a user- or archive-supplied path into the tree's form, refusing paths that leave
// the root.
func Clean(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	c := path.Clean("/" + p)
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("path %q contains \"..\"", p)
		}
	}
	c = strings.TrimPrefix(c, "/")
	if c == "" {
		return "", fmt.Errorf("path %q names the root", p)
	}
	return c, nil
}

// ConflictError reports two different entries for one path.
type ConflictError struct {
	Path        string
	Old, New    string // origins
	Description string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: %s from %s conflicts with %s", e.Path, e.Description, e.New, e.Old)
}

// Add puts an entry into the tree, creating missing parent directories (0755, root-owned, with the
// entry's origin). Adding a directory over an existing directory updates nothing and succeeds; any
// other collision is a *ConflictError, unless replace is used (see Replace).
func (t *Tree) Add(e Entry) error { return t.add(e, false) }

// Replace is Add where a later entry wins over an earlier one (overlays over packages).
func (t *Tree) Replace(e Entry) error { return t.add(e, true) }

func (t *Tree) add(e Entry, replace bool) error {
	p, err := Clean(e.Path)
	if err != nil {
		return err
	}
	e.Path = p
	if e.Kind == File && e.Source == "" {
		e.Size = int64(len(e.Data))
	}
	if e.Kind == File && e.Source != "" {
		fi, err := os.Stat(e.Source)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		e.Size = fi.Size()
	}
	if e.Kind == Symlink && e.Target == "" {
		return fmt.Errorf("%s: symlink without a target", p)
	}
	if e.Kind == Hardlink {
		if e.Target, err = Clean(e.Target); err != nil {
			return fmt.Errorf("%s: hard link: %w", p, err)
		}
		if e.Target == p {
			return fmt.Errorf("%s: hard link to itself", p)
		}
	}
	if err := t.mkdirAll(path.Dir(p), e.Origin); err != nil {
		return err
	}
	if old, ok := t.entries[p]; ok {
		switch {
		case old.Kind == Dir && e.Kind == Dir:
			if replace {
				t.entries[p] = &e
			}
			return nil
		case replace && old.Kind != Dir && e.Kind != Dir:
		case replace && old.Kind == Dir:
			return &ConflictError{Path: p, Old: old.Origin, New: e.Origin, Description: e.Kind.String() + " over a directory"}
		case replace:
			t.removeUnder(p)
		default:
			if same(old, &e) {
				return nil
			}
			return &ConflictError{Path: p, Old: old.Origin, New: e.Origin, Description: "different " + e.Kind.String()}
		}
	}
	t.entries[p] = &e
	return nil
}

func (t *Tree) removeUnder(p string) {
	for k := range t.entries {
		if strings.HasPrefix(k, p+"/") {
			delete(t.entries, k)
		}
	}
}

func same(a, b *Entry) bool {
	if a.Kind != b.Kind || a.Mode != b.Mode || a.UID != b.UID || a.GID != b.GID || a.Target != b.Target ||
		a.Major != b.Major || a.Minor != b.Minor || !a.MTime.Equal(b.MTime) || !sameXattrs(a.Xattrs, b.Xattrs) {
		return false
	}
	if a.Kind != File {
		return true
	}
	if a.Source != "" && a.Source == b.Source {
		return true
	}
	ad, err1 := a.ReadAll()
	bd, err2 := b.ReadAll()
	return err1 == nil && err2 == nil && bytes.Equal(ad, bd)
}

func sameXattrs(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func (t *Tree) mkdirAll(dir, origin string) error {
	if dir == "." || dir == "" {
		return nil
	}
	if e, ok := t.entries[dir]; ok {
		if e.Kind != Dir {
			return fmt.Errorf("%s: is a %s (from %s), not a directory", dir, e.Kind, e.Origin)
		}
		return nil
	}
	if err := t.mkdirAll(path.Dir(dir), origin); err != nil {
		return err
	}
	t.entries[dir] = &Entry{Path: dir, Kind: Dir, Mode: 0o755, Origin: origin}
	return nil
}

// Get returns the entry at p, if any.
func (t *Tree) Get(p string) (*Entry, bool) {
	c, err := Clean(p)
	if err != nil {
		return nil, false
	}
	e, ok := t.entries[c]
	return e, ok
}

// Remove deletes p and, for a directory, everything under it.
func (t *Tree) Remove(p string) {
	c, err := Clean(p)
	if err != nil {
		return
	}
	delete(t.entries, c)
	t.removeUnder(c)
}

// Len is the number of entries.
func (t *Tree) Len() int { return len(t.entries) }

// Entries returns every entry sorted by path, so that parents come before their children and the
// order never depends on how the tree was built.
func (t *Tree) Entries() []*Entry {
	out := make([]*Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Merge adds every entry of other to t (Add semantics unless replace).
func (t *Tree) Merge(other *Tree, replace bool) error {
	for _, e := range other.Entries() {
		if err := t.add(*e, replace); err != nil {
			return err
		}
	}
	return nil
}

// AddHostDir copies a directory of the host into the tree under prefix, with the given origin.
// Used for overlays, whose modes on the host depend on the builder's umask and checkout, not on
// anything the author chose (git records only a file's executable bit). So the modes are
// normalised: a file is 0755 when any executable bit is set and 0644 otherwise, a folder 0755, and
// owners are root. A folder the tree already has keeps its entry (an overlay's etc/ does not
// change the mode of /etc): an overlay folder only says where its files go.
func (t *Tree) AddHostDir(dir, prefix, origin string, replace bool) error {
	return fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		full := path.Join(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Path: path.Join(prefix, p), Origin: origin}
		switch {
		case d.IsDir():
			if old, ok := t.Get(e.Path); ok && old.Kind == Dir {
				return nil
			}
			e.Kind, e.Mode = Dir, 0o755
		case info.Mode()&fs.ModeSymlink != 0:
			e.Kind, e.Mode = Symlink, 0o777
			if e.Target, err = os.Readlink(full); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			e.Kind, e.Mode = File, HostFileMode(info.Mode())
			e.Source = full
			e.Size = info.Size()
		default:
			return fmt.Errorf("%s: unsupported file type %s", full, info.Mode().Type())
		}
		return t.add(e, replace)
	})
}

// HostFileMode is the mode a file taken from the host gets in an image: 0755 when any of its
// executable bits is set, else 0644, whatever the umask it was written under.
func HostFileMode(m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}
