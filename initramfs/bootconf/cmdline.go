package bootconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cmdline is what the init takes from the kernel command line (/proc/cmdline).
type Cmdline struct {
	Level    Level  // consciousness.level=0.0..1.0
	HasLevel bool   // whether consciousness.level was given (it overrides boot.conf)
	Debug    bool   // init.debug
	Test     string // consciousness.test=poweroff|shell|<target>: run, then act (see the init)
	Console  string // consciousness.console=shell|login (overrides boot.conf's console)
	// The root on the medium (stage 1, initramfs/live): how long to look for the medium
	// (consciousness.live.timeout=<seconds>; 0: the default), the upper layer's tmpfs size
	// (consciousness.live.tmpfs=<n>[k|m|g|%]) and whether to copy the layers into RAM first
	// (consciousness.live.toram).
	LiveTimeout time.Duration
	LiveTmpfs   string
	LiveToRAM   bool
	// Slot is genai.slot=A|B, which GRUB adds on an A/B disk system: the slot it booted ("" when
	// not given: not an A/B system).
	Slot string
}

// Known values of consciousness.test; any other value names a target to reach
// before powering off.
const (
	TestPoweroff = "poweroff" // print the ready line, then power off
	TestShell    = "shell"    // print the ready line, run a shell, power off when it exits
)

// ParseCmdline parses a kernel command line. Values may be double-quoted as the
// kernel allows (Documentation/admin-guide/kernel-parameters.rst). Malformed
// consciousness.* parameters are returned as errors (joined), unknown
// consciousness.* parameters as warnings; neither stops the parse.
func ParseCmdline(s string) (Cmdline, []string, error) {
	var c Cmdline
	var warns []string
	var errs []error
	for _, p := range splitCmdline(s) {
		k, v, hasV := strings.Cut(p, "=")
		switch {
		case k == "init.debug":
			c.Debug = true
		case k == "consciousness.level":
			l, err := ParseLevel(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("cmdline consciousness.level: %w", err))
				continue
			}
			c.Level, c.HasLevel = l, true
		case k == "consciousness.test":
			if !hasV || v == "" {
				errs = append(errs, errors.New("cmdline consciousness.test: empty value"))
				continue
			}
			c.Test = v
		case k == "consciousness.console":
			if v != "shell" && v != "login" {
				errs = append(errs, fmt.Errorf("cmdline consciousness.console %q: want shell or login", v))
				continue
			}
			c.Console = v
		case k == "consciousness.live.timeout":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil || n == 0 {
				errs = append(errs, fmt.Errorf("cmdline consciousness.live.timeout %q: want whole seconds, at least 1", v))
				continue
			}
			c.LiveTimeout = time.Duration(n) * time.Second
		case k == "consciousness.live.tmpfs":
			if !validTmpfsSize(v) {
				errs = append(errs, fmt.Errorf("cmdline consciousness.live.tmpfs %q: want a size as tmpfs takes it (bytes, or with k, m, g or %%)", v))
				continue
			}
			c.LiveTmpfs = v
		case k == "consciousness.live.toram":
			if hasV && v != "1" && v != "yes" {
				errs = append(errs, fmt.Errorf("cmdline consciousness.live.toram=%q: give it without a value", v))
				continue
			}
			c.LiveToRAM = true
		case k == "genai.slot":
			if v != "A" && v != "B" {
				errs = append(errs, fmt.Errorf("cmdline genai.slot=%q: want A or B", v))
				continue
			}
			c.Slot = v
		case strings.HasPrefix(k, "consciousness."):
			warns = append(warns, fmt.Sprintf("cmdline: unknown parameter %q ignored", k))
		}
	}
	return c, warns, errors.Join(errs...)
}

// validTmpfsSize accepts tmpfs' size= (Documentation/filesystems/tmpfs.rst): a number of bytes,
// with an optional k, m or g suffix, or a percentage of RAM from 1 to 100.
func validTmpfsSize(v string) bool {
	if v == "" {
		return false
	}
	num, suffix := v, ""
	if last := v[len(v)-1]; strings.IndexByte("kmgKMG%", last) >= 0 {
		num, suffix = v[:len(v)-1], string(last)
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 {
		return false
	}
	return suffix != "%" || n <= 100
}

// splitCmdline splits on blanks outside double quotes and removes the quotes,
// like the kernel's next_arg (lib/cmdline.c).
func splitCmdline(s string) []string {
	var out []string
	var b strings.Builder
	inQ, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ, any = !inQ, true
		case !inQ && (r == ' ' || r == '\t' || r == '\n'):
			if any {
				out = append(out, b.String())
				b.Reset()
				any = false
			}
		default:
			b.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, b.String())
	}
	return out
}
