// Package power ends the system: it kills what is left, syncs, unmounts and
// calls reboot(2). Only PID 1 (or root) may use it.
package power

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Action is what to do at the end.
type Action int

const (
	None Action = iota
	Poweroff
	Reboot
	Halt
)

func (a Action) String() string {
	switch a {
	case Poweroff:
		return "poweroff"
	case Reboot:
		return "reboot"
	case Halt:
		return "halt"
	}
	return "none"
}

// ForSignal maps the signals PID 1 receives to actions, as busybox init and
// sysvinit do: SIGTERM and SIGINT (Ctrl-Alt-Del, once CAD is off) reboot,
// SIGUSR1 halts, SIGUSR2 powers off.
func ForSignal(s os.Signal) Action {
	switch s {
	case syscall.SIGTERM, syscall.SIGINT:
		return Reboot
	case syscall.SIGUSR1:
		return Halt
	case syscall.SIGUSR2:
		return Poweroff
	}
	return None
}

// KillAll sends SIGTERM to every process but the caller (kill(-1), see
// kill(2)), waits up to grace for them to go, then sends SIGKILL. reap is
// called while waiting so that PID 1 collects the dead.
func KillAll(grace time.Duration, reap func()) {
	_ = unix.Kill(-1, unix.SIGTERM)
	_ = unix.Kill(-1, unix.SIGCONT)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if reap != nil {
			reap()
		}
		// kill(-1, 0) fails with ESRCH once no other process is left.
		if err := unix.Kill(-1, 0); errors.Is(err, unix.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = unix.Kill(-1, unix.SIGKILL)
	if reap != nil {
		time.Sleep(20 * time.Millisecond)
		reap()
	}
}

// UnmountAll unmounts what /proc/self/mounts lists, deepest first, lazily
// (MNT_DETACH); mounts that stay busy are remounted read-only. "/" is only
// remounted read-only. It returns the failures.
func UnmountAll() error {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return err
	}
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 {
			targets = append(targets, unescape(fs[1]))
		}
	}
	f.Close()
	sort.Slice(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
	var errs []error
	for _, t := range targets {
		if t == "/" {
			continue
		}
		if err := unix.Unmount(t, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			if rerr := unix.Mount("", t, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); rerr != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", t, err))
			}
		}
	}
	_ = unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
	return errors.Join(errs...)
}

// unescape undoes the octal escapes of /proc/self/mounts (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + c - '0'
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Final syncs and calls reboot(2) with the command for a. It returns only on
// failure (or for None).
func Final(a Action) error {
	unix.Sync()
	var cmd int
	switch a {
	case Poweroff:
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	case Reboot:
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	case Halt:
		cmd = unix.LINUX_REBOOT_CMD_HALT
	default:
		return nil
	}
	return unix.Reboot(cmd)
}

// CtrlAltDelSignals asks the kernel to send SIGINT to PID 1 on Ctrl-Alt-Del
// instead of rebooting at once (reboot(2) LINUX_REBOOT_CMD_CAD_OFF).
func CtrlAltDelSignals() error { return unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF) }
