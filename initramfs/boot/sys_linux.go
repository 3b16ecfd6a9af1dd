package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// SetHostname sets the kernel host name (sethostname(2)).
func SetHostname(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	return nil
}

// LinkUp sets IFF_UP on an interface ("lo" for loopback; the kernel assigns
// 127.0.0.1/8 and ::1 to lo when it comes up).
func LinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("link %s: get flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("link %s: set up: %w", name, err)
	}
	return nil
}

// Console makes sure fds 0, 1 and 2 are open, opening console (normally
// /dev/console) on those that are not. The kernel opens /dev/console for
// /init only if it exists in the initramfs (init/main.c console_on_rootfs).
// It reports whether it reopened any.
func Console(console string) (bool, error) {
	var bad []int
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			bad = append(bad, fd)
		}
	}
	if len(bad) == 0 {
		return false, nil
	}
	// A raw fd, not an *os.File: its finalizer would close fd 0..2 if the open landed there.
	cfd, err := unix.Open(console, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return false, fmt.Errorf("console %s: %w", console, err)
	}
	var errs []error
	for _, fd := range bad {
		if cfd == fd {
			continue
		}
		if err := unix.Dup3(cfd, fd, 0); err != nil {
			errs = append(errs, fmt.Errorf("console %s on fd %d: %w", console, fd, err))
		}
	}
	if cfd > 2 {
		unix.Close(cfd)
	}
	return true, errors.Join(errs...)
}

// SinceBoot is CLOCK_BOOTTIME: the time since the kernel started, counting suspend.
func SinceBoot() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return ts.Nano(), nil
}

// ConsoleDevice returns the tty behind /dev/console: the last name in
// /sys/class/tty/console/active (the console= given last, which /dev/console
// follows), as root-relative "dev/<name>". /dev/console itself cannot be a
// useful controlling terminal, so a shell on the console needs this device.
func ConsoleDevice(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "sys/class/tty/console/active"))
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "", errors.New("no active console")
	}
	return filepath.Join(root, "dev", f[len(f)-1]), nil
}
