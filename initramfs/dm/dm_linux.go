package dm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ControlPath is device-mapper's control node (devtmpfs names it "mapper/control").
const ControlPath = "/dev/mapper/control"

// struct dm_ioctl and struct dm_target_spec, include/uapi/linux/dm-ioctl.h (DM_VERSION_MAJOR 4).
const (
	ioctlSize      = 312 // sizeof(struct dm_ioctl)
	targetSpecSize = 40  // sizeof(struct dm_target_spec)
	nameLen        = 128 // DM_NAME_LEN
	uuidLen        = 129 // DM_UUID_LEN

	offDataSize    = 12
	offDataStart   = 16
	offTargetCount = 20
	offFlags       = 28
	offDev         = 40
	offName        = 48
	offUUID        = 176

	readOnlyFlag = 1 << 0 // DM_READONLY_FLAG

	// The commands: enum in dm-ioctl.h, DM_DEV_CREATE_CMD = 3 and so on.
	cmdDevCreate  = 3
	cmdDevRemove  = 4
	cmdDevSuspend = 6
	cmdTableLoad  = 9
)

// ioctlNumber is _IOWR(DM_IOCTL, cmd, struct dm_ioctl) (asm-generic/ioctl.h: dir 3 << 30, size
// << 16, type 0xfd << 8, nr).
func ioctlNumber(cmd uint) uint {
	return 3<<30 | ioctlSize<<16 | 0xfd<<8 | cmd
}

// header is a struct dm_ioctl for name, data bytes long in all (header included).
func header(name, uuid string, size int) ([]byte, error) {
	if name == "" || len(name) >= nameLen {
		return nil, fmt.Errorf("device name %q: want 1 to %d bytes", name, nameLen-1)
	}
	if len(uuid) >= uuidLen {
		return nil, fmt.Errorf("device uuid %q: want at most %d bytes", uuid, uuidLen-1)
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 4) // version 4.0.0: the kernel accepts any minor of major 4
	le.PutUint32(b[offDataSize:], uint32(size))
	le.PutUint32(b[offDataStart:], ioctlSize)
	copy(b[offName:], name)
	copy(b[offUUID:], uuid)
	return b, nil
}

func ioctl(ctl *os.File, cmd uint, b []byte) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, ctl.Fd(), uintptr(ioctlNumber(cmd)), uintptr(unsafe.Pointer(&b[0])))
	runtime.KeepAlive(b)
	if e != 0 {
		return e
	}
	return nil
}

// Create makes device name (with uuid, may be "") from targets, read-only when readOnly, and
// activates it: DM_DEV_CREATE, DM_TABLE_LOAD, then DM_DEV_SUSPEND without DM_SUSPEND_FLAG, which
// resumes it with the loaded table (dm-ioctl.h). It returns the new device's number; its node is
// Node(dev). On failure the half-made device is removed again.
func Create(name, uuid string, targets []Target, readOnly bool) (dev uint64, err error) {
	ctl, err := os.OpenFile(ControlPath, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer ctl.Close()
	b, err := header(name, uuid, ioctlSize)
	if err != nil {
		return 0, err
	}
	if err := ioctl(ctl, cmdDevCreate, b); err != nil {
		return 0, fmt.Errorf("DM_DEV_CREATE %s: %w", name, err)
	}
	dev = binary.LittleEndian.Uint64(b[offDev:])
	defer func() {
		if err != nil {
			if rb, herr := header(name, "", ioctlSize); herr == nil {
				ioctl(ctl, cmdDevRemove, rb)
			}
		}
	}()
	if err := load(ctl, name, targets, readOnly); err != nil {
		return 0, err
	}
	b, _ = header(name, "", ioctlSize)
	if err := ioctl(ctl, cmdDevSuspend, b); err != nil {
		return 0, fmt.Errorf("DM_DEV_SUSPEND (resume) %s: %w", name, err)
	}
	return dev, nil
}

// load is DM_TABLE_LOAD: the header, then per target a struct dm_target_spec and its
// NUL-terminated parameters, each spec's next the offset of the following one, 8-byte aligned.
func load(ctl *os.File, name string, targets []Target, readOnly bool) error {
	if len(targets) == 0 {
		return errors.New("an empty table")
	}
	var body []byte
	le := binary.LittleEndian
	for _, t := range targets {
		if len(t.Type) >= 16 || t.Type == "" {
			return fmt.Errorf("target type %q: want 1 to 15 bytes (DM_MAX_TYPE_NAME 16)", t.Type)
		}
		n := (targetSpecSize + len(t.Params) + 1 + 7) &^ 7
		spec := make([]byte, n)
		le.PutUint64(spec[0:], t.Start)
		le.PutUint64(spec[8:], t.Length)
		le.PutUint32(spec[20:], uint32(n)) // next: from this spec's start
		copy(spec[24:40], t.Type)
		copy(spec[targetSpecSize:], t.Params)
		body = append(body, spec...)
	}
	b, err := header(name, "", ioctlSize+len(body))
	if err != nil {
		return err
	}
	copy(b[ioctlSize:], body)
	le.PutUint32(b[offTargetCount:], uint32(len(targets)))
	if readOnly {
		le.PutUint32(b[offFlags:], readOnlyFlag)
	}
	if err := ioctl(ctl, cmdTableLoad, b); err != nil {
		return fmt.Errorf("DM_TABLE_LOAD %s: %w", name, err)
	}
	return nil
}

// Remove removes device name (DM_DEV_REMOVE); it fails with EBUSY while the device is open.
func Remove(name string) error {
	ctl, err := os.OpenFile(ControlPath, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer ctl.Close()
	b, err := header(name, "", ioctlSize)
	if err != nil {
		return err
	}
	if err := ioctl(ctl, cmdDevRemove, b); err != nil {
		return fmt.Errorf("DM_DEV_REMOVE %s: %w", name, err)
	}
	return nil
}

// Node is the node devtmpfs makes for device-mapper device dev: /dev/dm-<minor>.
func Node(dev uint64) string {
	return fmt.Sprintf("/dev/dm-%d", unix.Minor(dev))
}

// WaitNode waits up to timeout for path to appear (devtmpfs adds the node as the kernel registers
// the disk; there is no udev to wait for).
func WaitNode(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := os.Stat(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
