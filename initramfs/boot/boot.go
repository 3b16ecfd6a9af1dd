// Package boot sets up the root file system of PID 1 as data: a table of
// Creator values (directories, mounts, symlinks), after u-root's
// pkg/libinit, each with Create() error.
package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A Creator makes one thing exist. Create is idempotent: what already exists
// is left as it is.
type Creator interface {
	Create() error
	fmt.Stringer
}

// Dir makes a directory (and its parents) with Mode.
type Dir struct {
	Name string
	Mode os.FileMode
}

func (d Dir) Create() error {
	if err := os.MkdirAll(d.Name, d.Mode); err != nil {
		return err
	}
	// MkdirAll applies the umask and skips existing dirs: set the mode exactly.
	return os.Chmod(d.Name, d.Mode)
}

func (d Dir) String() string { return fmt.Sprintf("dir %s %o", d.Name, d.Mode) }

// Symlink makes NewPath point at Target. An existing symlink with the same
// target is fine; anything else at NewPath is an error.
type Symlink struct {
	Target  string
	NewPath string
}

func (s Symlink) Create() error {
	if err := os.MkdirAll(filepath.Dir(s.NewPath), 0o755); err != nil {
		return err
	}
	err := os.Symlink(s.Target, s.NewPath)
	if errors.Is(err, os.ErrExist) {
		if t, lerr := os.Readlink(s.NewPath); lerr == nil && t == s.Target {
			return nil
		}
	}
	return err
}

func (s Symlink) String() string { return fmt.Sprintf("symlink %s -> %s", s.NewPath, s.Target) }

// Mount mounts Source on Target (creating Target with mode 0755 if needed). A
// target that is already a mount point (EBUSY, or on another device than its
// parent: the API file systems an early init moved into this root) is left alone.
type Mount struct {
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string
}

func (m Mount) Create() error {
	if err := os.MkdirAll(m.Target, 0o755); err != nil {
		return err
	}
	if mountPoint(m.Target) {
		return nil
	}
	err := unix.Mount(m.Source, m.Target, m.FSType, m.Flags, m.Data)
	if errors.Is(err, unix.EBUSY) {
		return nil
	}
	return err
}

// mountPoint reports whether p is the root of a mount: on another device than its parent
// (mount(2) of proc or tmpfs on an existing mount would stack a new one over it, not fail).
func mountPoint(p string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(p, &st) != nil || unix.Stat(filepath.Join(p, ".."), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

func (m Mount) String() string {
	return fmt.Sprintf("mount %s %s -t %s -o %s", m.Source, m.Target, m.FSType, m.Data)
}

// StepError is the failure of one Creator, named by its String.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Create runs every creator in order and returns all failures (joined
// *StepError values); a failure does not stop later steps, so that a broken
// /dev/shm does not also lose /run.
func Create(cs []Creator) error {
	var errs []error
	for _, c := range cs {
		if err := c.Create(); err != nil {
			errs = append(errs, &StepError{c.String(), err})
		}
	}
	return errors.Join(errs...)
}

const (
	nosuidNodev       = unix.MS_NOSUID | unix.MS_NODEV
	nosuidNodevNoexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
)

// Table is the early boot setup of a root at root ("/" on a real boot), in
// order. The caller owns the returned slice.
func Table(root string) []Creator {
	p := func(s string) string { return filepath.Join(root, s) }
	return []Creator{
		Mount{"proc", p("proc"), "proc", nosuidNodevNoexec, ""},
		Mount{"sysfs", p("sys"), "sysfs", nosuidNodevNoexec, ""},
		// DEVTMPFS_MOUNT is off in Debian's kernel: mount /dev ourselves.
		Mount{"devtmpfs", p("dev"), "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		// gid 5 is "tty" (Debian base-passwd); ptmxmode lets users open /dev/pts/ptmx.
		Mount{"devpts", p("dev/pts"), "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
		Mount{"shm", p("dev/shm"), "tmpfs", nosuidNodev, "mode=1777"},
		Mount{"run", p("run"), "tmpfs", nosuidNodev, "mode=0755"},
		Mount{"tmp", p("tmp"), "tmpfs", nosuidNodev, "mode=1777"},
		Mount{"cgroup2", p("sys/fs/cgroup"), "cgroup2", nosuidNodevNoexec, "nsdelegate"},
		Symlink{"/proc/self/fd", p("dev/fd")},
		Symlink{"/proc/self/fd/0", p("dev/stdin")},
		Symlink{"/proc/self/fd/1", p("dev/stdout")},
		Symlink{"/proc/self/fd/2", p("dev/stderr")},
		Dir{p("run/consciousness"), 0o755},
		Dir{p("var/log/consciousness"), 0o755},
		Dir{p("root"), 0o700},
		Dir{p("var/tmp"), os.ModeSticky | 0o777},
	}
}
