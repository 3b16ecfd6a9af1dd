package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Lockdown is the kernel's lockdown mode, the bracketed word of
// /sys/kernel/security/lockdown ("none [integrity] confidentiality": integrity), mounting
// securityfs there first when it is not mounted. "unavailable" when the kernel has no lockdown LSM.
func Lockdown(root string) (string, error) {
	dir := filepath.Join(root, "sys/kernel/security")
	p := filepath.Join(dir, "lockdown")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		if merr := unix.Mount("securityfs", dir, "securityfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); merr != nil && !errors.Is(merr, unix.EBUSY) {
			return "", fmt.Errorf("mount securityfs on %s: %w", dir, merr)
		}
		b, err = os.ReadFile(p)
	}
	if errors.Is(err, os.ErrNotExist) {
		return "unavailable", nil
	}
	if err != nil {
		return "", err
	}
	return ParseLockdown(string(b))
}

// ParseLockdown returns the bracketed mode of the lockdown file's text.
func ParseLockdown(s string) (string, error) {
	for _, f := range strings.Fields(s) {
		if len(f) > 2 && f[0] == '[' && f[len(f)-1] == ']' {
			return f[1 : len(f)-1], nil
		}
	}
	return "", fmt.Errorf("lockdown %q: no [mode]", strings.TrimSpace(s))
}
