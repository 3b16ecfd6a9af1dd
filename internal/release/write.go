package release

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/sign"
)

// Edition is one built edition to release, with how its boots were checked.
type Edition struct {
	Result *build.Result
	Boot   BootCheck
}

// Options are the inputs of Write.
type Options struct {
	Out        string // the releases folder (release/); the release goes to <Out>/<Version>
	Version    string
	Force      bool // replace an existing <Out>/<Version>
	Key        *sign.Key
	SourceDate time.Time // the signature's time
	Editions   []Edition
	Previous   *Previous // nil: the first release
	// Repo, when set, is a folder (genai-build repo's APT repository) copied in as repo/.
	Repo string
}

// ErrExists is returned when the release folder exists and Force is off: pass --force to
// replace it, or release another version.
var ErrExists = errors.New("release folder exists")

// Dir is where a version's release goes.
func Dir(out, version string) string { return filepath.Join(out, version) }

// Write lays out <Out>/<Version>: every edition's images, build manifest and SBOM, NOTES.md, the
// public key, SHA256SUMS over all of them and its detached signature. Everything is written into
// a temporary folder beside it, synced, and renamed into place last, so an interrupted release
// leaves no folder of that version (only a .<version>.partial-* folder the next run removes).
// It returns the release folder.
func Write(o Options) (string, error) {
	if o.Version == "" || filepath.Base(o.Version) != o.Version || o.Version[0] == '.' {
		return "", fmt.Errorf("release version %q: want a plain name such as 0.1.0", o.Version)
	}
	if o.Key == nil || len(o.Editions) == 0 {
		return "", errors.New("release: a key and at least one edition are needed")
	}
	final := Dir(o.Out, o.Version)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", err
	}
	unlock, err := lock(filepath.Join(o.Out, "."+o.Version+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Lstat(final); err == nil && !o.Force {
		return "", fmt.Errorf("%s: %w; pass --force to replace it, or release another version", final, ErrExists)
	}
	// Under the lock no other release of this version is running: earlier runs' leftovers go.
	stale, _ := filepath.Glob(filepath.Join(o.Out, "."+o.Version+".partial-*"))
	for _, p := range stale {
		os.RemoveAll(p)
	}
	tmp, err := os.MkdirTemp(o.Out, "."+o.Version+".partial-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // after a successful exchange it holds the replaced release
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := fill(tmp, o); err != nil {
		return "", err
	}
	if err := cache.SyncDir(tmp); err != nil {
		return "", err
	}
	if _, err := os.Lstat(final); err == nil {
		// --force: swap the two folders in one step (renameat2(2) RENAME_EXCHANGE), so a reader sees
		// the old release or the new one, never none.
		if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_EXCHANGE); err != nil {
			return "", fmt.Errorf("replace %s: %w", final, err)
		}
	} else if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, cache.SyncDir(o.Out)
}

// fill writes the release's files into dir.
func fill(dir string, o Options) error {
	var notes []EditionNotes
	names := map[string]string{} // file name -> the edition that brought it
	for _, e := range o.Editions {
		r := e.Result
		if r == nil || r.ManifestData == nil {
			return errors.New("release: an edition without its build result")
		}
		files := []string{r.Manifest, r.SBOM}
		for _, im := range r.Images {
			files = append(files, im.Path)
		}
		for _, f := range files {
			n := filepath.Base(f)
			if other, ok := names[n]; ok {
				return fmt.Errorf("release: %s is written by both %s and %s", n, other, r.ManifestData.Edition)
			}
			names[n] = r.ManifestData.Edition
			if err := linkOrCopy(f, filepath.Join(dir, n)); err != nil {
				return err
			}
		}
		// The image records in the manifest must match what is released.
		for _, im := range r.Images {
			got, err := FileSHA256(filepath.Join(dir, filepath.Base(im.Path)))
			if err != nil {
				return err
			}
			if got != im.SHA256 {
				return fmt.Errorf("release: %s changed since it was built (SHA-256 %s, the build said %s); build again", im.Path, got, im.SHA256)
			}
		}
		notes = append(notes, EditionNotes{Manifest: r.ManifestData, Boot: e.Boot})
	}
	if o.Repo != "" {
		if err := copyTree(o.Repo, filepath.Join(dir, "repo")); err != nil {
			return fmt.Errorf("--repo: %w", err)
		}
	}
	pub, err := o.Key.ArmoredPublic()
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, PublicKeyFile), pub, 0o644); err != nil {
		return err
	}
	md := Notes(NotesInput{Version: o.Version, SourceDate: o.SourceDate, Fingerprint: o.Key.Fingerprint(), UserID: o.Key.UserID(),
		Editions: notes, Previous: o.Previous})
	if err := writeFile(filepath.Join(dir, NotesFile), md, 0o644); err != nil {
		return err
	}
	sums, err := SumDir(dir)
	if err != nil {
		return err
	}
	text, err := FormatSums(sums)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, SumsFile), text, 0o644); err != nil {
		return err
	}
	at, err := SignatureTime(o.Key, o.SourceDate)
	if err != nil {
		return err
	}
	sig, err := o.Key.DetachSign(bytes.NewReader(text), at)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, SignatureFile), sig, 0o644)
}

// SignatureTime is when the release's signature is dated: the release's SOURCE_DATE_EPOCH, or
// the key's creation time when the key is younger: a key cannot sign before it exists (go-crypto
// finds "no valid signing keys" then, and gpgv rejects such a signature). Either way the same key
// and date give the same signature.
func SignatureTime(k *sign.Key, date time.Time) (time.Time, error) {
	return k.SignTime(date), nil
}

// linkOrCopy hard-links src to dst (the build's outputs are never rewritten in place: a new build
// renames new files over them), or copies it across file systems.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyFile(src, dst, 0o644)
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies the regular files and folders under src to dst; anything else is refused.
func copyTree(src, dst string) error {
	var paths []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(p, target, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeFile creates p with mode (never replacing a file) and syncs it.
func writeFile(p string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// lock takes an exclusive flock(2) on p, waiting for another release of the same version; the
// lock goes with the process, so a killed release never leaves it held.
func lock(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
