package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/genai-os/genai-build/initramfs/unit"
	"golang.org/x/sys/unix"
)

// setNoNewPrivs sets no_new_privs: execve(2) no longer honours set-user-ID and set-group-ID bits
// or file capabilities (prctl(2) PR_SET_NO_NEW_PRIVS).
func setNoNewPrivs() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("NoNewPrivileges: %w", err)
	}
	return nil
}

// lastCap is the highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap).
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if n, err2 := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && err2 == nil {
		return n
	}
	return unix.CAP_LAST_CAP
}

// setCaps drops what the bounding set leaves out, switches to the service's user keeping the
// permitted set when it has ambient capabilities, and raises them (capabilities(7)).
func setCaps(spec Spec) error {
	s := spec.Sandbox
	bound := ^uint64(0)
	if s.HasBound {
		bound = s.Bound
	}
	if s.PrivateDevices { // as systemd: no new device nodes, no raw I/O
		bound &^= 1<<unix.CAP_MKNOD | 1<<unix.CAP_SYS_RAWIO
	}
	if s.Ambient&^bound != 0 {
		return fmt.Errorf("AmbientCapabilities: %s not in CapabilityBoundingSet=", names(s.Ambient&^bound))
	}
	if bound != ^uint64(0) {
		for c := 0; c <= lastCap() && c < 64; c++ {
			if bound&(1<<c) != 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				return fmt.Errorf("CapabilityBoundingSet: drop %s: %w", unit.CapName(c), err)
			}
		}
	}
	if c := spec.Cred; c != nil {
		if s.Ambient != 0 {
			if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
				return fmt.Errorf("keep capabilities: %w", err)
			}
		}
		if err := setCred(c); err != nil {
			return err
		}
	}
	if s.Ambient == 0 {
		return nil
	}
	// An ambient capability must be permitted and inheritable (PR_CAP_AMBIENT_RAISE).
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable |= uint32(s.Ambient)
	data[1].Inheritable |= uint32(s.Ambient >> 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("AmbientCapabilities: capset: %w", err)
	}
	for c := 0; c < 64; c++ {
		if s.Ambient&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("AmbientCapabilities: raise %s: %w", unit.CapName(c), err)
		}
	}
	return nil
}

// setCred sets the groups, group and user of the calling thread only (raw system calls: the
// syscall package's would set every thread's, and this thread's keep-caps flag is what counts).
func setCred(c *Cred) error {
	var p unsafe.Pointer
	if len(c.Groups) > 0 {
		p = unsafe.Pointer(&c.Groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(c.Groups)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(c.Gid), uintptr(c.Gid), uintptr(c.Gid)); e != 0 {
		return fmt.Errorf("setresgid %d: %w", c.Gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(c.Uid), uintptr(c.Uid), uintptr(c.Uid)); e != 0 {
		return fmt.Errorf("setresuid %d: %w", c.Uid, e)
	}
	return nil
}

func names(mask uint64) string {
	var out []string
	for c := 0; c < 64; c++ {
		if mask&(1<<c) != 0 {
			out = append(out, unit.CapName(c))
		}
	}
	return strings.Join(out, " ")
}
