// Package sandbox applies a service's unit.Sandbox to the process about to execute it: the
// init starts the service through its own binary run as ExecName (Exec), which in a mount
// namespace of its own makes the mounts, drops capabilities, switches to the service's user,
// installs the seccomp filter and executes the command. Go runs no code between fork and exec,
// so these steps cannot be done in the child of the init's own fork.
//
// Every step acts on the calling thread (locked to it) and lasts through the execve(2) that
// ends Exec: mount namespaces, capabilities, credentials, no_new_privs and seccomp filters are
// per thread until then.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/genai-os/genai-build/initramfs/unit"
)

// ExecName is argv[0] of the helper (the init dispatches on it).
const ExecName = "consciousness-sandbox-exec"

// Spec is what the helper applies.
type Spec struct {
	unit.Sandbox
	// Cred is the service's user; nil keeps the helper's own (root).
	Cred *Cred `json:",omitempty"`
	// Dir is the working directory, entered again once the mounts are made.
	Dir string `json:",omitempty"`
	// Writable are paths kept writable under ProtectSystem= (the unit's RuntimeDirectory=).
	Writable []string `json:",omitempty"`
}

// Cred is a user, its group and supplementary groups.
type Cred struct {
	Uid, Gid uint32
	Groups   []uint32
}

// Args is the helper's argument list (after argv[0]) that runs path as argv under spec.
func Args(spec Spec, path string, argv []string) ([]string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return append([]string{string(b), path}, argv...), nil
}

// Exec is the helper: args are SPEC-JSON PATH ARGV0 [ARG...]. It returns only on failure.
func Exec(args []string) error {
	if len(args) < 3 {
		return errors.New("usage: " + ExecName + " SPEC-JSON PATH ARGV0 [ARG...]")
	}
	var spec Spec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		return fmt.Errorf("sandbox spec: %w", err)
	}
	runtime.LockOSThread() // never unlocked: the thread ends in execve
	if err := Apply(spec); err != nil {
		return err
	}
	if err := syscall.Exec(args[1], args[2:], os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", args[1], err)
	}
	return nil
}

// Apply applies spec to the calling thread, which must be locked (runtime.LockOSThread) and
// should execute the service next.
func Apply(spec Spec) error {
	s := spec.Sandbox
	if s.NeedsMounts() {
		if err := mountAll(spec); err != nil {
			return err
		}
	}
	if spec.Dir != "" {
		if err := syscall.Chdir(spec.Dir); err != nil {
			return fmt.Errorf("WorkingDirectory %s: %w", spec.Dir, err)
		}
	}
	if s.NoNewPrivileges {
		if err := setNoNewPrivs(); err != nil {
			return err
		}
	}
	// Installed while the helper still has CAP_SYS_ADMIN, so it needs no no_new_privs
	// (seccomp(2)); it filters only socket(2), which the helper no longer calls.
	if s.Families != nil {
		if err := restrictFamilies(s.Families); err != nil {
			return err
		}
	}
	return setCaps(spec)
}
