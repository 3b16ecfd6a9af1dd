package live

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// APIMounts are the file systems the init set up that the new root keeps (with what is mounted
// under them: /dev/pts, /sys/fs/cgroup, /run/live).
var APIMounts = []string{"/dev", "/proc", "/sys", "/run"}

// SwitchRoot makes newRoot the root, as util-linux's switch_root does (sys-utils/switch_root.c):
// it moves each of moves into newRoot, detaches what else is mounted in the initramfs
// (detach), deletes the initramfs's files (only those on its own device: nothing under another
// mount is touched), moves newRoot onto / and chroots there. The caller then executes the new
// init. Deleting gives the initramfs's memory back to the system: rootfs cannot be unmounted.
func SwitchRoot(newRoot string, moves, detach []string) error {
	var rootSt unix.Stat_t
	if err := unix.Stat("/", &rootSt); err != nil {
		return err
	}
	var newSt unix.Stat_t
	if err := unix.Stat(newRoot, &newSt); err != nil {
		return err
	}
	if newSt.Dev == rootSt.Dev {
		return fmt.Errorf("%s is not a mount point", newRoot)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/", &fs); err != nil {
		return err
	}
	// Only an initramfs is emptied (include/uapi/linux/magic.h): never a disk's root by mistake.
	if fs.Type != unix.RAMFS_MAGIC && fs.Type != unix.TMPFS_MAGIC {
		return fmt.Errorf("/ is not an initramfs (file system type %#x)", fs.Type)
	}
	for _, m := range moves {
		dst := filepath.Join(newRoot, m)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m, dst, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving %s: %w", m, err)
		}
	}
	for _, m := range detach {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("detaching %s: %w", m, err)
		}
	}
	if err := os.Chdir(newRoot); err != nil {
		return err
	}
	freeErr := RemoveSameDevice("/", uint64(rootSt.Dev), newRoot)
	if err := finish(newRoot); err != nil {
		return errors.Join(err, freeErr)
	}
	if freeErr != nil {
		// Not fatal to the boot: the memory stays used, nothing else is wrong.
		return fmt.Errorf("%w: %w", ErrNotFreed, freeErr)
	}
	return nil
}

// ErrNotFreed: the root was switched, but some of the initramfs's files could not be deleted
// (their memory stays used). The caller goes on with the new root.
var ErrNotFreed = errors.New("root switched, initramfs not wholly freed")

func finish(newRoot string) error {
	if err := unix.Mount(newRoot, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving %s to /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return os.Chdir("/")
}

// RemoveSameDevice deletes everything under dir that lives on device dev, depth first, and
// leaves alone what is on another device (mount points and all below them) and keep. Every
// failure is reported, joined; the rest is still deleted.
func RemoveSameDevice(dir string, dev uint64, keep string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if p == keep {
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			errs = append(errs, err)
			continue
		}
		if uint64(st.Dev) != dev {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := RemoveSameDevice(p, dev, keep); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := unix.Rmdir(p); err != nil {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", p, err))
			}
			continue
		}
		if err := unix.Unlink(p); err != nil {
			errs = append(errs, fmt.Errorf("unlink %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
