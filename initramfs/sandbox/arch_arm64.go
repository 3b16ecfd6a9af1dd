package sandbox

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this machine's system calls (linux/audit.h); arm64 has
// no second ABI in the same table (32-bit tasks report AUDIT_ARCH_ARM and are killed).
const (
	auditArch = unix.AUDIT_ARCH_AARCH64
	abiBit    = 0
)
