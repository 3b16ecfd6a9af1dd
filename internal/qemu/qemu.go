// Package qemu boots an image in QEMU the way a PC would: legacy BIOS (SeaBIOS) or UEFI (OVMF, with
// or without Secure Boot), from a CD drive or a USB stick, with the serial console as the way to see
// what happens. It is used by `genai-build boot`, by the boot tests and by the benchmarks.
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// Firmware is what the virtual PC starts with.
type Firmware string

const (
	BIOS       Firmware = "bios"       // SeaBIOS, legacy boot
	UEFI       Firmware = "uefi"       // OVMF without Secure Boot
	SecureBoot Firmware = "secureboot" // OVMF with the Microsoft keys enrolled and Secure Boot on
)

// Media is how the image is attached.
type Media string

const (
	CD  Media = "cd"  // an AHCI CD-ROM drive
	USB Media = "usb" // a USB stick on an xHCI controller (the image written raw, as with dd)
)

// Firmwares and Medias list the valid values, for flags and test matrices.
var (
	Firmwares = []Firmware{BIOS, UEFI, SecureBoot}
	Medias    = []Media{CD, USB}
)

// ParseFirmware and ParseMedia check a user's choice.
func ParseFirmware(s string) (Firmware, error) {
	for _, f := range Firmwares {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown firmware %q: use bios, uefi or secureboot", s)
}

func ParseMedia(s string) (Media, error) {
	for _, m := range Medias {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown media %q: use cd or usb", s)
}

// Accel chooses the accelerator.
type Accel string

const (
	AccelAuto Accel = "auto" // KVM when /dev/kvm can be opened and works, else TCG
	AccelKVM  Accel = "kvm"
	AccelTCG  Accel = "tcg"
)

// Config describes one virtual machine.
type Config struct {
	Image    string
	Firmware Firmware
	Media    Media
	Accel    Accel
	MemoryMB int      // default 1024
	CPUs     int      // default 2
	Net      bool     // a virtio NIC on QEMU's user network
	HostFwd  []string // user-network forwards, e.g. "tcp::2222-:22"
	Extra    []string // more QEMU arguments
	// StateDir holds the per-boot copy of the UEFI variable store; default: a temporary folder.
	StateDir string
	// Binary is the QEMU executable; default qemu-system-x86_64 on PATH.
	Binary string
	// FirmwareDir is where OVMF lives; default /usr/share/OVMF.
	FirmwareDir string
}

// ErrNoQEMU says QEMU or its firmware is not installed.
var ErrNoQEMU = errors.New("qemu-system-x86_64 not found: install it (Debian: apt-get install qemu-system-x86 ovmf)")

// ovmf returns the code and vars files for the firmware.
func (c Config) ovmf() (code, vars string, err error) {
	dir := c.FirmwareDir
	if dir == "" {
		dir = "/usr/share/OVMF"
	}
	suffix := ".fd"
	if c.Firmware == SecureBoot {
		suffix = ".ms.fd" // Microsoft keys enrolled, Secure Boot on (Debian's ovmf package)
	}
	code = filepath.Join(dir, "OVMF_CODE_4M"+suffix)
	vars = filepath.Join(dir, "OVMF_VARS_4M"+suffix)
	for _, p := range []string{code, vars} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("UEFI firmware %s not found: install OVMF (Debian: apt-get install ovmf)", p)
		}
	}
	return code, vars, nil
}

// Args returns QEMU's arguments (without the binary) for this machine, with the serial console on
// stdio. accel is kvm or tcg.
func (c Config) Args(accel Accel) ([]string, error) {
	if _, err := os.Stat(c.Image); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	mem, cpus := c.MemoryMB, c.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 2
	}
	machine := "q35"
	var args []string
	if c.Firmware == SecureBoot {
		// OVMF's Secure Boot build keeps its variables in SMM: QEMU must offer SMM and a secure flash.
		machine += ",smm=on"
		args = append(args, "-global", "driver=cfi.pflash01,property=secure,value=on")
	}
	// -nodefaults: no empty default CD drive for the firmware to try first (FACTS: QEMU here).
	args = append(args, "-nodefaults", "-machine", machine, "-m", fmt.Sprint(mem), "-smp", fmt.Sprint(cpus),
		"-display", "none", "-serial", "stdio", "-no-reboot")
	if accel == AccelKVM {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg")
	}
	if c.Firmware == UEFI || c.Firmware == SecureBoot {
		code, vars, err := c.ovmf()
		if err != nil {
			return nil, err
		}
		state := c.StateDir
		if state == "" {
			return nil, errors.New("qemu: StateDir is required for UEFI (the variable store is copied there)")
		}
		// A fresh copy of the variable store for each boot: the firmware writes to it.
		vcopy := filepath.Join(state, "OVMF_VARS.fd")
		if err := copyFile(vars, vcopy); err != nil {
			return nil, err
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
			"-drive", "if=pflash,format=raw,unit=1,file="+vcopy)
	}
	img := "file=" + strings.ReplaceAll(c.Image, ",", ",,")
	switch c.Media {
	case CD:
		args = append(args, "-drive", "if=none,id=boot,media=cdrom,readonly=on,format=raw,"+img,
			"-device", "ide-cd,drive=boot,bootindex=0")
	case USB:
		args = append(args, "-drive", "if=none,id=boot,format=raw,snapshot=on,"+img,
			"-device", "qemu-xhci,id=xhci", "-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0")
	default:
		return nil, fmt.Errorf("unknown media %q", c.Media)
	}
	if c.Net || len(c.HostFwd) > 0 {
		nic := "user,model=virtio-net-pci"
		for _, f := range c.HostFwd {
			nic += ",hostfwd=" + f
		}
		args = append(args, "-nic", nic)
	}
	return append(args, c.Extra...), nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

func (c Config) binary() (string, error) {
	b := c.Binary
	if b == "" {
		b = "qemu-system-x86_64"
	}
	p, err := exec.LookPath(b)
	if err != nil {
		return "", ErrNoQEMU
	}
	return p, nil
}

// kvmUsable reports whether /dev/kvm can be opened.
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// Watch says what to wait for on the serial console.
type Watch struct {
	Ready   *regexp.Regexp // the line that means success
	Fail    *regexp.Regexp // a line that means failure (default: kernel panic, KVM error)
	Timeout time.Duration  // default 3 minutes
	Log     io.Writer      // every console line, as it arrives (optional)
	// KeepRunning leaves the machine running after Ready until it exits by itself (poweroff) or
	// the timeout; by default it is stopped at once.
	KeepRunning bool
}

// Result is what a boot showed.
type Result struct {
	Accel     Accel
	ReadyLine string        // the line that matched Ready
	ReadyAt   time.Duration // wall time from QEMU's start to that line
	// KernelInit is the kernel's timestamp of "Run /init as init process" (guest time), if printed.
	KernelInit time.Duration
	ExitedAt   time.Duration // wall time until QEMU exited by itself (0 if it was stopped)
	Console    []byte
}

// FailError is a boot that failed or never reached the ready line; it carries the console.
type FailError struct {
	Reason  string
	Console []byte
}

func (e *FailError) Error() string {
	tail := e.Console
	if len(tail) > 3000 {
		tail = tail[len(tail)-3000:]
	}
	return fmt.Sprintf("boot failed: %s; last console output:\n%s", e.Reason, tail)
}

var (
	defaultFail = regexp.MustCompile(`KVM internal error|Kernel panic - not syncing|emulation failure`)
	kernelInit  = regexp.MustCompile(`\[\s*([0-9]+\.[0-9]+)\] Run \S+ as init process`)
)

// Boot starts the machine, watches its console and stops it when the watch is over. With AccelAuto
// it uses KVM when it works and falls back to TCG when KVM fails (as it does under some nested
// hypervisors).
func Boot(ctx context.Context, c Config, w Watch) (*Result, error) {
	accel := c.Accel
	if accel == "" || accel == AccelAuto {
		accel = AccelTCG
		if kvmUsable() && !kvmBroken.Load() {
			accel = AccelKVM
		}
		r, err := boot(ctx, c, w, accel)
		var fe *FailError
		if accel == AccelKVM && errors.As(err, &fe) && kvmFailure(fe.Console) {
			kvmBroken.Store(true)
			return boot(ctx, c, w, AccelTCG)
		}
		return r, err
	}
	return boot(ctx, c, w, accel)
}

// kvmBroken remembers, for the life of the process, that KVM failed to run a guest here.
var kvmBroken atomic.Bool

func kvmFailure(console []byte) bool {
	for _, s := range []string{"KVM internal error", "failed to set MSR", "emulation failure", "failed to initialize kvm"} {
		if bytes.Contains(console, []byte(s)) {
			return true
		}
	}
	return false
}

func boot(ctx context.Context, c Config, w Watch, accel Accel) (*Result, error) {
	bin, err := c.binary()
	if err != nil {
		return nil, err
	}
	if c.StateDir == "" {
		d, err := os.MkdirTemp("", "genai-qemu-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		c.StateDir = d
	}
	args, err := c.Args(accel)
	if err != nil {
		return nil, err
	}
	timeout := w.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	fail := w.Fail
	if fail == nil {
		fail = defaultFail
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = nil
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	waitErr := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); waitErr <- err }()

	res := &Result{Accel: accel}
	var console bytes.Buffer
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var failed string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		console.WriteString(line + "\n")
		if w.Log != nil {
			fmt.Fprintln(w.Log, line)
		}
		if res.KernelInit == 0 {
			if m := kernelInit.FindStringSubmatch(line); m != nil {
				d, _ := time.ParseDuration(m[1] + "s")
				res.KernelInit = d
			}
		}
		if res.ReadyLine == "" && w.Ready != nil && w.Ready.MatchString(line) {
			res.ReadyLine, res.ReadyAt = line, time.Since(start)
			if !w.KeepRunning {
				break
			}
		}
		if fail.MatchString(line) {
			failed = "console: " + line
			break
		}
	}
	exitedByItself := false
	select {
	case err := <-waitErr:
		exitedByItself = ctx.Err() == nil
		if exitedByItself {
			res.ExitedAt = time.Since(start)
		}
		if err != nil && failed == "" && res.ReadyLine == "" && exitedByItself {
			failed = "qemu: " + err.Error()
		}
	default:
		cancel()
		go io.Copy(io.Discard, pr)
		<-waitErr
	}
	res.Console = console.Bytes()
	switch {
	case failed != "":
		return res, &FailError{Reason: failed, Console: res.Console}
	case w.Ready != nil && res.ReadyLine == "" && ctx.Err() != nil && !exitedByItself:
		return res, &FailError{Reason: fmt.Sprintf("no line matching %q within %s", w.Ready, timeout), Console: res.Console}
	case w.Ready != nil && res.ReadyLine == "":
		return res, &FailError{Reason: fmt.Sprintf("qemu exited before a line matched %q", w.Ready), Console: res.Console}
	}
	return res, nil
}

// Interactive runs the machine with the serial console on the given terminal streams until it
// exits (Ctrl-A X quits QEMU).
func Interactive(ctx context.Context, c Config, accel Accel, stdin io.Reader, stdout, stderr io.Writer) error {
	bin, err := c.binary()
	if err != nil {
		return err
	}
	if accel == "" || accel == AccelAuto {
		accel = AccelTCG
		if kvmUsable() {
			accel = AccelKVM
		}
	}
	if c.StateDir == "" {
		d, err := os.MkdirTemp("", "genai-qemu-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.StateDir = d
	}
	args, err := c.Args(accel)
	if err != nil {
		return err
	}
	// mon:stdio multiplexes the monitor (Ctrl-A C) and lets Ctrl-A X quit.
	for i, a := range args {
		if a == "stdio" && i > 0 && args[i-1] == "-serial" {
			args[i] = "mon:stdio"
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd.Run()
}
