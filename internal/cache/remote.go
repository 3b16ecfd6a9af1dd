package cache

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Remote is a second cache level shared across machines (internal/ocicache keeps it in an OCI
// registry). The cache reads an entry through it when the entry is missing locally, and writes
// back what it built or downloaded. A remote never fails a build: it reports its own failures
// (on its log) and answers as if it held nothing, so the entry is built or downloaded locally.
type Remote interface {
	// OpenStage returns the archive of stage kind/key (as WriteStageArchive wrote it), or nil
	// when the remote lacks it or is off. The reader checks the archive against the digest the
	// remote recorded and fails at its end when they differ.
	OpenStage(kind, key string) io.ReadCloser
	// PushStage stores stage kind/key unless the remote already holds it; archive is called only
	// then, and release after the upload.
	PushStage(kind, key string, archive func() (a Content, release func(), err error))
	// OpenBlob returns the blob with this SHA-256 and size (-1: unknown), checked as it is read,
	// or nil.
	OpenBlob(sha string, size int64) io.ReadCloser
	// PushBlob stores the blob unless the remote already holds it.
	PushBlob(sha string, blob Content)
}

// Content is what a remote uploads: its size and SHA-256 are known before it is read.
type Content struct {
	Size   int64
	SHA256 string
	Open   func() (io.ReadCloser, error)
}

// remoteStage reads stage kind/key through the remote into the cache: the archive is unpacked
// into a temporary folder, every file is hashed and the result must equal the manifest the
// archive brings; only then is the folder renamed into place. Anything else is a miss.
func (c *Cache) remoteStage(kind, key string) (string, bool) {
	r := c.Remote.OpenStage(kind, key)
	if r == nil {
		return "", false
	}
	defer r.Close()
	final := c.StageDir(kind, key)
	parent := filepath.Dir(final)
	tmp, unlock, err := c.tempStage(parent, key)
	if err != nil {
		return "", false
	}
	defer unlock()
	entry := "remote stage " + kind + "/" + key
	fail := func(reason string) (string, bool) {
		c.log().Warn("remote cache entry refused; it is built locally", "entry", entry, "reason", reason)
		os.RemoveAll(tmp)
		return "", false
	}
	if err := readStageArchive(r, tmp); err != nil {
		return fail(err.Error())
	}
	got, dirs, err := scanStage(tmp, true)
	if err != nil {
		return fail(err.Error())
	}
	want, err := readManifest(filepath.Join(tmp, ManifestName))
	if err != nil {
		return fail(err.Error())
	}
	if reason := sameManifest(want, got); reason != "" {
		return fail(reason)
	}
	if err := syncAndClose(filepath.Join(tmp, ManifestName)); err != nil {
		return fail(err.Error())
	}
	if err := syncDirs(dirs); err != nil {
		return fail(err.Error())
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(final); statErr == nil {
			return final, true
		}
		return "", false
	}
	if SyncDir(parent) != nil {
		return "", false
	}
	return final, true
}

// sameManifest says how the files unpacked from a remote differ from the manifest they came with
// ("" when they do not).
func sameManifest(want, got manifest) string {
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			return want[i].path + ": in the manifest, not in the archive"
		case i >= len(want):
			return got[i].path + ": in the archive, not in the manifest"
		case want[i] != got[i]:
			return fmt.Sprintf("%s: differs from its manifest record", got[i].path)
		}
	}
	return ""
}

func syncAndClose(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// pushStage writes the committed stage back to the remote: its archive is spooled to a file in
// the cache's scratch folder (stages can be hundreds of MB; an upload must know its digest first).
func (c *Cache) pushStage(kind, key, dir string) {
	c.Remote.PushStage(kind, key, func() (Content, func(), error) {
		scratch, release, err := c.Scratch("push")
		if err != nil {
			return Content{}, nil, err
		}
		p := filepath.Join(scratch, "stage.tar")
		f, err := os.Create(p)
		if err != nil {
			release()
			return Content{}, nil, err
		}
		h := sha256.New()
		n, err := WriteStageArchive(io.MultiWriter(f, h), dir)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			release()
			return Content{}, nil, err
		}
		open := func() (io.ReadCloser, error) { return os.Open(p) }
		return Content{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Open: open}, release, nil
	})
}

// remoteBlob reads a blob missing from the cache through the remote; it is stored only when its
// SHA-256 (and size, when known) match.
func (c *Cache) remoteBlob(sha string, size int64) bool {
	r := c.Remote.OpenBlob(sha, size)
	if r == nil {
		return false
	}
	defer r.Close()
	var body io.Reader = r
	if size >= 0 {
		body = io.LimitReader(r, size+1)
	}
	p, _, err := c.putBlob("remote blob sha256:"+sha, body, sha, false)
	if err == nil && size >= 0 {
		if fi, serr := os.Stat(p); serr != nil {
			err = serr
		} else if fi.Size() != size {
			err = fmt.Errorf("%d bytes, want %d", fi.Size(), size)
			os.Remove(p)
		}
	}
	if err != nil {
		c.log().Warn("remote cache entry refused; it is downloaded", "entry", "remote blob sha256:"+sha, "reason", err.Error())
		return false
	}
	return true
}

func (c *Cache) pushBlob(sha, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	c.Remote.PushBlob(sha, Content{Size: fi.Size(), SHA256: sha, Open: func() (io.ReadCloser, error) { return os.Open(path) }})
}

// archiveTime is every entry's modification time in a stage archive, so that equal stages make
// equal archives (and a registry stores one blob for them).
var archiveTime = time.Unix(0, 0)

// WriteStageArchive writes the stage folder dir (its manifest included) to w as a tar archive:
// entries in lexical order, owners and times fixed, permissions kept. It returns the bytes written.
func WriteStageArchive(w io.Writer, dir string) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: int64(info.Mode().Perm()), ModTime: archiveTime, Format: tar.FormatPAX}
		switch {
		case d.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case d.Type()&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case d.Type().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		default:
			return fmt.Errorf("%s: a %s cannot be archived", rel, d.Type())
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readStageArchive unpacks a stage archive into the empty folder dir. It takes only folders,
// regular files and symlinks, at clean relative paths whose parent is a folder the archive made
// (never through a symlink), and no name twice.
func readStageArchive(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	made := map[string]bool{".": true}
	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if name == "" || name != path.Clean(name) || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || seen[name] {
			return fmt.Errorf("archive: bad or repeated name %q", hdr.Name)
		}
		seen[name] = true
		if !made[path.Dir(name)] {
			return fmt.Errorf("archive: %s: its folder is not one the archive made", name)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			made[name] = true
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(hdr.Mode)&0o777)
			if err != nil {
				return err
			}
			n, err := io.Copy(f, tr)
			if err == nil {
				err = f.Chmod(os.FileMode(hdr.Mode) & 0o777) // the origin's mode, whatever this umask
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("archive: %s: %w", name, err)
			}
			if n != hdr.Size {
				return fmt.Errorf("archive: %s: %d bytes, want %d", name, n, hdr.Size)
			}
		default:
			return fmt.Errorf("archive: %s: entry type %q is not taken", name, hdr.Typeflag)
		}
	}
	// The archive's reader checks its digest at the end: read to it, so a tampered tail (past the
	// tar's end-of-archive blocks) is seen too.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}
