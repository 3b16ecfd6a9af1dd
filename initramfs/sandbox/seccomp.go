package sandbox

import (
	"fmt"
	"unsafe"

	"github.com/genai-os/genai-build/initramfs/unit"
	"golang.org/x/sys/unix"
)

// struct seccomp_data (linux/seccomp.h): int nr; __u32 arch; __u64 instruction_pointer;
// __u64 args[6]. args[0]'s low 32 bits are at 16 on a little-endian machine; socket(2)'s family
// is an int, so the kernel looks at no more.
const (
	offNr    = 0
	offArch  = 4
	offArg0  = 16
	retAllow = uint32(unix.SECCOMP_RET_ALLOW)
	retKill  = uint32(unix.SECCOMP_RET_KILL_PROCESS)
	retNoAF  = uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)&unix.SECCOMP_RET_DATA)
)

// familyFilter is the classic BPF program (seccomp(2), "Filter programs") of
// RestrictAddressFamilies=: a system call of another architecture (or, on x86-64, the x32 ABI)
// kills the process, so that no other system call table bypasses the check; socket(2) with a
// family the list refuses fails with EAFNOSUPPORT; everything else passes. socketpair(2) is not
// filtered, as in systemd.
func familyFilter(f *unit.Families) []unix.SockFilter {
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	p := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		jeq(auditArch, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, retKill),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
	if abiBit != 0 { // x32 system calls: nr | __X32_SYSCALL_BIT (asm/unistd.h)
		p = append(p, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: abiBit, Jt: 0, Jf: 1},
			stmt(unix.BPF_RET|unix.BPF_K, retKill))
	}
	p = append(p,
		jeq(unix.SYS_SOCKET, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, retAllow),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0),
	)
	listed, other := retAllow, retNoAF
	if f.Deny {
		listed, other = retNoAF, retAllow
	}
	n := len(f.List)
	for i, af := range f.List {
		// On a match, jump over the rest of the list and the "not listed" return.
		p = append(p, jeq(uint32(af), uint8(n-i), 0))
	}
	return append(p, stmt(unix.BPF_RET|unix.BPF_K, other), stmt(unix.BPF_RET|unix.BPF_K, listed))
}

// restrictFamilies installs familyFilter on the calling thread.
func restrictFamilies(f *unit.Families) error {
	if len(f.List) > 200 {
		return fmt.Errorf("RestrictAddressFamilies: %d families: too many for the filter's jumps", len(f.List))
	}
	p := familyFilter(f)
	prog := unix.SockFprog{Len: uint16(len(p)), Filter: &p[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("RestrictAddressFamilies: seccomp filter: %w", err)
	}
	return nil
}
