package sandbox

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this machine's system calls (linux/audit.h); abiBit marks
// the x32 ABI's system call numbers (__X32_SYSCALL_BIT, arch/x86/include/uapi/asm/unistd.h).
const (
	auditArch = unix.AUDIT_ARCH_X86_64
	abiBit    = 0x40000000
)
