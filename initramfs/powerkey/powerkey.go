// Package powerkey reads the power key from the kernel's input devices. The ACPI power button,
// which a VM manager presses to stop a guest (QEMU's system_powerdown, virsh shutdown, a cloud's
// "stop"), is reported by the kernel's button driver (drivers/acpi/button.c) as KEY_POWER on an
// input device, which the evdev handler shows as /dev/input/eventN. No logind is needed.
package powerkey

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Codes from include/uapi/linux/input-event-codes.h.
const (
	evKey    = 0x01  // EV_KEY
	keyPower = 116   // KEY_POWER
	keyMax   = 0x2ff // KEY_MAX
)

// eventSize is sizeof(struct input_event) on a 64-bit kernel (include/uapi/linux/input.h):
// a struct timeval (two longs, 16 bytes), __u16 type, __u16 code, __s32 value.
const eventSize = 24

// eviocgbit is EVIOCGBIT(ev, len) = _IOC(_IOC_READ, 'E', 0x20 + ev, len) (include/uapi/linux/input.h,
// include/uapi/asm-generic/ioctl.h: dir in bits 30-31, size 16-29, type 8-15, number 0-7).
func eviocgbit(ev, size uint) uint { return 2<<30 | size<<16 | 'E'<<8 | (0x20 + ev) }

// hasBit says whether bit n is set in a kernel bitmap of longs, read as bytes (little endian:
// amd64 and arm64, the architectures the images are built for).
func hasBit(bits []byte, n int) bool { return n/8 < len(bits) && bits[n/8]&(1<<(n%8)) != 0 }

// HasPowerKey says whether the input device open as f can send KEY_POWER.
func HasPowerKey(f *os.File) (bool, error) {
	bits := make([]byte, keyMax/8+1)
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(eviocgbit(evKey, uint(len(bits)))), uintptr(unsafe.Pointer(&bits[0])))
	}); err != nil {
		return false, err
	}
	if errno != 0 {
		return false, fmt.Errorf("EVIOCGBIT(EV_KEY) on %s: %w", f.Name(), errno)
	}
	return hasBit(bits, keyPower), nil
}

// Devices lists the event devices in dir (/dev/input) that have a power key.
func Devices(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "event*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []string
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok, err := HasPowerKey(f)
		f.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// ReadPresses reads struct input_event records from r and calls pressed for every press of the
// power key (EV_KEY, KEY_POWER, value 1; 0 is the release, 2 an auto-repeat). It returns r's error.
func ReadPresses(r io.Reader, pressed func()) error {
	buf := make([]byte, 64*eventSize) // evdev returns whole events, as many as fit
	have := 0                         // bytes in buf; a reader other than evdev may split an event
	for {
		n, err := r.Read(buf[have:])
		have += n
		whole := have - have%eventSize
		for b := buf[:whole]; len(b) >= eventSize; b = b[eventSize:] {
			typ := binary.LittleEndian.Uint16(b[16:])
			code := binary.LittleEndian.Uint16(b[18:])
			value := int32(binary.LittleEndian.Uint32(b[20:]))
			if typ == evKey && code == keyPower && value == 1 {
				pressed()
			}
		}
		have = copy(buf, buf[whole:have])
		if err != nil {
			return err
		}
	}
}

// Watch calls pressed for every press of the power key on the event device at path, until the
// device goes away.
func Watch(path string, pressed func()) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := ReadPresses(f, pressed); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
