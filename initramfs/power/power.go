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

// SIGRTMIN as systemd counts it (systemd(1) "Signals"): glibc's SIGRTMIN, 34, since glibc
// keeps 32 and 33 for its threads (signal(7), "Real-time signals"). `kill -s RTMIN+4 1` in
// bash or util-linux kill means 38.
const sigRTMin = 34

// RTMin returns the signal SIGRTMIN+n as systemd and the shell number it.
func RTMin(n int) syscall.Signal { return syscall.Signal(sigRTMin + n) }

// Meaning is what a signal asks of PID 1.
type Meaning struct {
	Action Action // None: the system stays up
	// Immediate goes down at once, without stopping the services first (systemd's
	// SIGRTMIN+13..16); file systems are still synced.
	Immediate bool
	// Dump logs the state of every unit (systemd's SIGUSR2).
	Dump bool
	Why  string // for the log line
}

// signals is the table of systemd(1) "Signals" for the system manager, as far as this init has
// the feature behind the signal. Where busybox init or sysvinit gave a signal another meaning
// (SIGTERM reboot, SIGUSR1 halt, SIGUSR2 poweroff), systemd's wins: an administrator's
// `kill -TERM 1` expects a daemon re-execution, not a reboot.
var signals = map[syscall.Signal]Meaning{
	syscall.SIGINT:  {Action: Reboot, Why: "ctrl-alt-del"},
	syscall.SIGTERM: {Why: "re-execute (systemd daemon-reexec): not supported, the system keeps running"},
	syscall.SIGHUP:  {Why: "reload (systemd daemon-reload): units are read at boot only, the system keeps running"},
	syscall.SIGUSR1: {Why: "reconnect to D-Bus: there is no D-Bus"},
	syscall.SIGUSR2: {Dump: true, Why: "dump the state of the units"},
	RTMin(3):        {Action: Halt, Why: "halt"},
	RTMin(4):        {Action: Poweroff, Why: "poweroff"},
	RTMin(5):        {Action: Reboot, Why: "reboot"},
	RTMin(6):        {Action: Reboot, Why: "kexec: not supported, rebooting"},
	RTMin(13):       {Action: Halt, Immediate: true, Why: "immediate halt"},
	RTMin(14):       {Action: Poweroff, Immediate: true, Why: "immediate poweroff"},
	RTMin(15):       {Action: Reboot, Immediate: true, Why: "immediate reboot"},
	RTMin(16):       {Action: Reboot, Immediate: true, Why: "immediate kexec: not supported, rebooting"},
}

// ForSignal is what the signal s asks of PID 1 (the zero Meaning for a signal it does not take).
func ForSignal(s os.Signal) Meaning {
	if n, ok := s.(syscall.Signal); ok {
		return signals[n]
	}
	return Meaning{}
}

// Signals lists the signals PID 1 takes, in number order, for signal.Notify.
func Signals() []os.Signal {
	var out []os.Signal
	for n := range signals {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].(syscall.Signal) < out[j].(syscall.Signal) })
	return out
}

// ForAction is the signal that asks PID 1 for a, for those who send it one (the control socket,
// the power button): SIGRTMIN+3, +4 or +5, as systemd.
func ForAction(a Action) syscall.Signal {
	switch a {
	case Halt:
		return RTMin(3)
	case Poweroff:
		return RTMin(4)
	case Reboot:
		return RTMin(5)
	}
	return 0
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
			targets = append(targets, Unescape(fs[1]))
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

// Unescape undoes the octal escapes of /proc/self/mounts and mountinfo (\040 for a space).
func Unescape(s string) string {
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
