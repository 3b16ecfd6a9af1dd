package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/genai-os/genai-build/initramfs/boot"
	"github.com/genai-os/genai-build/initramfs/power"
	"github.com/genai-os/genai-build/initramfs/rootcheck"
	"github.com/genai-os/genai-build/initramfs/svc"
)

// rootReport is what the init found of its root before it reports anything (initramfs/README.md,
// "The ready and failed lines").
type rootReport struct {
	manifest    rootcheck.Manifest
	manifestErr error               // the manifest is missing, cut short or bad
	missing     []rootcheck.Missing // segments whose marker is not there
	kernel      string              // the kernel's "Initramfs unpacking failed: ..." line, if any
	memoryMB    int                 // the machine's memory (0: unknown)
}

func (r rootReport) whole() bool {
	return r.manifestErr == nil && len(r.missing) == 0 && r.kernel == ""
}

// checkRoot reads the root manifest, looks for every segment's marker, and asks the kernel's log
// whether it unpacked the whole initramfs.
func (in *initProc) checkRoot() rootReport {
	var r rootReport
	r.memoryMB, _ = boot.MemoryMB(in.root)
	r.kernel, _ = boot.KernelUnpackFailure()
	f, err := os.Open(in.path(rootcheck.Path))
	if err != nil {
		r.manifestErr = err
		return r
	}
	defer f.Close()
	if r.manifest, err = rootcheck.Parse(f); err != nil {
		r.manifestErr = fmt.Errorf("/%s: %w", rootcheck.Path, err)
		return r
	}
	r.missing = rootcheck.Check(in.root, r.manifest)
	return r
}

// failedLine is the line harnesses match when the root is not whole, and reason is its reason.
func (r rootReport) failedLine() string {
	reason := "root-incomplete"
	needs := "unknown"
	if m := r.manifest.MemoryMinMB; m > 0 {
		needs = fmt.Sprint(m)
		if r.memoryMB > 0 && r.memoryMB < m {
			reason = "memory"
		}
	}
	missing := rootcheck.Names(r.missing)
	switch {
	case r.manifestErr != nil:
		missing = "root-manifest"
	case missing == "":
		missing = "unknown"
	}
	edition := r.manifest.Edition
	if edition == "" {
		edition = "unknown"
	}
	return fmt.Sprintf("genai-os: failed reason=%s edition=%s memory_mb=%d needs_mb=%s missing=%s kernel=%q",
		reason, edition, r.memoryMB, needs, missing, r.kernel)
}

// explanation says the same for a person, in one line.
func (r rootReport) explanation() string {
	var b strings.Builder
	b.WriteString("genai-os: the root file system is incomplete: ")
	switch {
	case errors.Is(r.manifestErr, os.ErrNotExist):
		fmt.Fprintf(&b, "/%s is missing (the image was not made by genai-build, or its first segment was lost)", rootcheck.Path)
	case r.manifestErr != nil:
		fmt.Fprintf(&b, "%v", r.manifestErr)
	case len(r.missing) > 0:
		var parts []string
		for _, m := range r.missing {
			parts = append(parts, fmt.Sprintf("segment %s (%d entries; %s)", m.Segment.Name, m.Segment.Entries, m.Why))
		}
		fmt.Fprintf(&b, "%d of %d initramfs segments not unpacked: %s", len(r.missing), len(r.manifest.Segments), strings.Join(parts, ", "))
	default:
		b.WriteString("every segment's marker is there, but the kernel reports an error")
	}
	if r.kernel != "" {
		fmt.Fprintf(&b, "; the kernel said %q", r.kernel)
	}
	b.WriteString(". This machine has ")
	if r.memoryMB > 0 {
		fmt.Fprintf(&b, "%d MiB of memory", r.memoryMB)
	} else {
		b.WriteString("an unknown amount of memory")
	}
	if m := r.manifest.MemoryMinMB; m > 0 {
		fmt.Fprintf(&b, "; the %s edition needs at least %d MiB", r.manifest.Edition, m)
	}
	b.WriteString(".")
	return b.String()
}

// bootVerdict says why a boot that got as far as its units is not ready: "" when it is, else the
// reason and a detail for the failed line.
func (in *initProc) bootVerdict(rep svc.Report) (reason, detail string) {
	switch {
	case in.confProblem != "":
		return "config", in.confProblem
	case in.conf.Edition == "" || in.conf.Edition == "unknown":
		return "config", "no edition in boot.conf or os-release"
	case len(rep.Failed) > 0:
		return "units", "failed at boot: " + strings.Join(rep.Failed, " ")
	}
	return "", ""
}

// everyConsole prints line on the console (stdout) and on every other console the kernel writes
// to (/sys/class/tty/console/active: the serial port and the screen, for example), so that it is
// seen wherever someone looks.
func (in *initProc) everyConsole(line string) {
	fmt.Fprintln(os.Stdout, line)
	b, err := os.ReadFile(in.path("sys/class/tty/console/active"))
	if err != nil {
		return
	}
	mine, _ := boot.ConsoleDevice(in.root)
	for _, name := range strings.Fields(string(b)) {
		p := filepath.Join(in.root, "dev", name)
		if p == mine {
			continue
		}
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			fmt.Fprintf(f, "%s\r\n", line)
			f.Close()
		}
	}
}

// failRoot reports a root that is not whole on every console, and then halts: no unit is started
// from a partial root. init.debug gives a rescue shell instead; consciousness.test=... powers off,
// so that a harness sees QEMU end.
func (in *initProc) failRoot(r rootReport) {
	in.everyConsole(r.failedLine())
	in.everyConsole(r.explanation())
	in.log.Error("root incomplete, no service started", "manifest_err", r.manifestErr)
	in.afterFailure()
}

// afterFailure ends a boot that failed before its units: halt, showing the message; init.debug
// gives a rescue shell instead; consciousness.test=... powers off, so that a harness sees QEMU end.
func (in *initProc) afterFailure() {
	if err := power.CtrlAltDelSignals(); err != nil {
		in.log.Warn("ctrl-alt-del", "err", err)
	}
	switch {
	case in.cmdline.Debug:
		in.everyConsole("genai-os: init.debug: a rescue shell on the console, if the root has one")
		in.goSafe("rescue shell", func() { in.shell(true) })
	case in.cmdline.Test != "":
		in.shutdown(power.Poweroff, false)
	default:
		in.everyConsole("genai-os: halted; Ctrl-Alt-Del restarts the machine")
	}
}
