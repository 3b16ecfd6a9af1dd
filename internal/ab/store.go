package ab

import (
	"errors"
	"fmt"
	"os"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat12"
	"github.com/diskfs/go-diskfs/filesystem/fat16"
)

// Store reads and writes the two copies of the environment in place, at the disk blocks the FAT
// gives their files, as GRUB's save_env does: the file system's metadata is never written, so
// no FAT driver is involved and the ESP stays as the image shipped it.
type Store struct {
	f      *os.File
	off    int64                // the ESP's first byte in f
	ranges [2][]fat12.DiskRange // the copies' blocks, relative to the ESP
}

// OpenStore opens the ESP at dev (a partition, e.g. /dev/vda1) read-write.
func OpenStore(dev string) (*Store, error) {
	return OpenStoreAt(dev, 0, 0)
}

// OpenStoreAt opens the ESP that starts at byte off of path and is size bytes long (0: to the
// end of path): an image file on the build host, or a partition device.
func OpenStoreAt(path string, off, size int64) (*Store, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("boot state: %w", err)
	}
	s, err := newStore(f, off, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("boot state on %s: %w", path, err)
	}
	return s, nil
}

func newStore(f *os.File, off, size int64) (*Store, error) {
	if size == 0 {
		end, err := f.Seek(0, 2) // a block device's size too
		if err != nil {
			return nil, err
		}
		size = end - off
	}
	fs, err := fat16.Read(file.New(f, true), size, off, 512)
	if err != nil {
		return nil, fmt.Errorf("the ESP: %w", err)
	}
	s := &Store{f: f, off: off}
	for i, p := range []string{EnvPath, EnvPath2} {
		h, err := fs.OpenFile("/"+p, os.O_RDONLY)
		if err != nil {
			return nil, fmt.Errorf("/%s: %w (the image must ship both copies)", p, err)
		}
		ff, ok := h.(*fat12.File)
		if !ok {
			return nil, fmt.Errorf("/%s: unexpected file type %T", p, h)
		}
		fi, err := ff.Stat()
		if err != nil {
			return nil, err
		}
		if fi.Size() != EnvSize {
			return nil, fmt.Errorf("/%s is %d bytes, want %d", p, fi.Size(), EnvSize)
		}
		r, err := ff.GetDiskRanges()
		if err != nil {
			return nil, fmt.Errorf("/%s: %w", p, err)
		}
		var n uint64
		for _, x := range r {
			n += x.Length
		}
		if n < EnvSize {
			return nil, fmt.Errorf("/%s: its clusters hold %d bytes, want %d", p, n, EnvSize)
		}
		s.ranges[i] = r
	}
	return s, nil
}

// Close closes the device.
func (s *Store) Close() error { return s.f.Close() }

// readCopy reads copy i's 1024 bytes.
func (s *Store) readCopy(i int) ([]byte, error) {
	b := make([]byte, EnvSize)
	done := 0
	for _, r := range s.ranges[i] {
		n := min(int(r.Length), EnvSize-done)
		if _, err := s.f.ReadAt(b[done:done+n], s.off+int64(r.Offset)); err != nil {
			return nil, err
		}
		if done += n; done == EnvSize {
			break
		}
	}
	return b, nil
}

// writeCopy writes copy i and waits for the device to have it.
func (s *Store) writeCopy(i int, b []byte) error {
	done := 0
	for _, r := range s.ranges[i] {
		n := min(int(r.Length), EnvSize-done)
		if _, err := s.f.WriteAt(b[done:done+n], s.off+int64(r.Offset)); err != nil {
			return err
		}
		if done += n; done == EnvSize {
			break
		}
	}
	return s.f.Sync()
}

// Copies reads both copies as they are: each one's state or why it is invalid.
func (s *Store) Copies() (envs [2]Env, errs [2]error) {
	for i := range 2 {
		b, err := s.readCopy(i)
		if err == nil {
			envs[i], err = ParseEnv(b)
		}
		errs[i] = err
	}
	return envs, errs
}

// ErrNoValidEnv says neither copy holds a valid state.
var ErrNoValidEnv = errors.New("neither copy of the boot state is valid")

// Read returns the state: grubenv when it is valid, else grubenv2. A copy that is invalid or
// differs from the state returned is rewritten (repaired) with it; repaired says so.
func (s *Store) Read() (e Env, repaired bool, err error) {
	envs, errs := s.Copies()
	switch {
	case errs[0] == nil:
		e = envs[0]
	case errs[1] == nil:
		e = envs[1]
	default:
		return Env{}, false, fmt.Errorf("%w: grubenv: %v; grubenv2: %v", ErrNoValidEnv, errs[0], errs[1])
	}
	// GRUB reorders variables, so compare states, not bytes.
	for i := range 2 {
		if errs[i] != nil || envs[i] != e {
			if err := s.writeCopy(i, e.Format()); err != nil {
				return e, false, fmt.Errorf("repairing the boot state: %w", err)
			}
			repaired = true
		}
	}
	return e, repaired, nil
}

// Write stores e: grubenv first, then grubenv2, each synced before the next.
func (s *Store) Write(e Env) error {
	if err := e.Validate(); err != nil {
		return err
	}
	b := e.Format()
	for i := range 2 {
		if err := s.writeCopy(i, b); err != nil {
			return fmt.Errorf("writing the boot state: %w", err)
		}
	}
	return nil
}
