// Package rootcheck is the contract by which the init knows its root is whole: the builder writes
// a root manifest (/etc/consciousness/root.manifest) into the first initramfs segment, naming
// every segment with its entry count and a marker (an entry only that segment holds, the last of
// them in the order it is written), and the memory the image needs; the init checks each marker
// before it reports anything.
//
// Why markers work: the kernel unpacks the initramfs segments in order, each archive's entries in
// order, and stops at the first error (init/initramfs.c, unpack_to_rootfs: "while (!message &&
// len)"); a shortage of memory ends the unpacking with "write error" part way. So a segment whose
// marker is there (with its size, for a file) was unpacked up to its marker, and every segment
// before it was unpacked whole. The manifest goes first so that it survives a cut anywhere later.
package rootcheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Path is where the manifest lives in the root tree (no leading slash, as in an fstree).
const Path = "etc/consciousness/root.manifest"

// header is the manifest's first line; a later format gets a new number.
const header = "genai-root-manifest 1"

// Manifest is what the builder promises the init will find.
type Manifest struct {
	Edition string
	// MemoryMinMB is the least memory, in MiB, the image boots with (computed by the builder).
	MemoryMinMB int
	Segments    []Segment
}

// Segment is one initramfs segment as the builder wrote it.
type Segment struct {
	Name    string
	Entries int // entries in its archive
	// Marker is an entry of this segment and of no other: a file, dir or symlink at Path (relative,
	// no leading slash); Size is a file's size.
	Kind string // "file", "dir", "symlink"
	Size int64
	Path string
}

// Marshal writes m in the manifest's line format:
//
//	genai-root-manifest 1
//	edition server
//	memory_min_mb 180
//	segment <name> <entries> <kind> <size> <path>
//	end <number of segments>
//
// The end line makes a manifest cut short detectably incomplete.
func (m Manifest) Marshal() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n# Written by genai-build; consciousness-init checks the root against it before it reports ready.\n", header)
	fmt.Fprintf(&b, "edition %s\nmemory_min_mb %d\n", m.Edition, m.MemoryMinMB)
	for _, s := range m.Segments {
		fmt.Fprintf(&b, "segment %s %d %s %d %s\n", s.Name, s.Entries, s.Kind, s.Size, s.Path)
	}
	fmt.Fprintf(&b, "end %d\n", len(m.Segments))
	return []byte(b.String())
}

// ErrTruncated: the manifest has no end line (or a wrong count); the root is incomplete.
var ErrTruncated = errors.New("root manifest cut short (no end line)")

// Parse reads a manifest written by Marshal. Errors name the line.
func Parse(r io.Reader) (Manifest, error) {
	var m Manifest
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return m, err
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return m, ErrTruncated // written whole, a manifest ends with a newline
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n, ended := 0, false
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			if line != header {
				return m, fmt.Errorf("line 1: %q, want %q", line, header)
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if ended {
			return m, fmt.Errorf("line %d: text after the end line", n)
		}
		key, rest, _ := strings.Cut(line, " ")
		switch key {
		case "edition":
			if rest == "" || strings.ContainsAny(rest, " \t") {
				return m, fmt.Errorf("line %d: bad edition %q", n, rest)
			}
			m.Edition = rest
		case "memory_min_mb":
			v, err := strconv.Atoi(rest)
			if err != nil || v < 0 {
				return m, fmt.Errorf("line %d: bad memory_min_mb %q", n, rest)
			}
			m.MemoryMinMB = v
		case "segment":
			f := strings.SplitN(rest, " ", 5)
			if len(f) != 5 {
				return m, fmt.Errorf("line %d: want segment <name> <entries> <kind> <size> <path>", n)
			}
			s := Segment{Name: f[0], Kind: f[2], Path: f[4]}
			var err1, err2 error
			s.Entries, err1 = strconv.Atoi(f[1])
			s.Size, err2 = strconv.ParseInt(f[3], 10, 64)
			switch {
			case s.Name == "" || err1 != nil || s.Entries < 0 || err2 != nil || s.Size < 0:
				return m, fmt.Errorf("line %d: bad segment %q", n, rest)
			case s.Kind != "file" && s.Kind != "dir" && s.Kind != "symlink":
				return m, fmt.Errorf("line %d: marker kind %q, want file, dir or symlink", n, s.Kind)
			case s.Path == "" || strings.HasPrefix(s.Path, "/") || !fs.ValidPath(s.Path):
				return m, fmt.Errorf("line %d: bad marker path %q", n, s.Path)
			}
			m.Segments = append(m.Segments, s)
		case "end":
			c, err := strconv.Atoi(rest)
			if err != nil || c != len(m.Segments) {
				return m, fmt.Errorf("line %d: end %q, but %d segments: %w", n, rest, len(m.Segments), ErrTruncated)
			}
			ended = true
		default:
			return m, fmt.Errorf("line %d: unknown key %q", n, key)
		}
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if n == 0 {
		return m, fmt.Errorf("empty: %w", ErrTruncated)
	}
	if !ended {
		return m, ErrTruncated
	}
	if m.Edition == "" {
		return m, errors.New("no edition line")
	}
	return m, nil
}

// Missing is a segment whose marker is not in the root, and why.
type Missing struct {
	Segment Segment
	Why     string
}

// Check looks for every segment's marker under root and returns the segments that are not whole,
// in the manifest's order.
func Check(root string, m Manifest) []Missing {
	var out []Missing
	for _, s := range m.Segments {
		if why := checkMarker(filepath.Join(root, s.Path), s); why != "" {
			out = append(out, Missing{s, why})
		}
	}
	return out
}

func checkMarker(p string, s Segment) string {
	fi, err := os.Lstat(p)
	if err != nil {
		return "/" + s.Path + " missing"
	}
	switch {
	case s.Kind == "dir" && !fi.IsDir(),
		s.Kind == "symlink" && fi.Mode()&fs.ModeSymlink == 0,
		s.Kind == "file" && !fi.Mode().IsRegular():
		return fmt.Sprintf("/%s is not a %s", s.Path, s.Kind)
	case s.Kind == "file" && fi.Size() != s.Size:
		return fmt.Sprintf("/%s has %d of its %d bytes", s.Path, fi.Size(), s.Size)
	}
	return ""
}

// Names lists the segments' names, comma-separated.
func Names(ms []Missing) string {
	var n []string
	for _, x := range ms {
		n = append(n, x.Segment.Name)
	}
	return strings.Join(n, ",")
}
