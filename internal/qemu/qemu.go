// Package qemu boots an image in QEMU the way a PC would: legacy BIOS (SeaBIOS) or UEFI (OVMF, with
// or without Secure Boot), from a CD drive or a USB stick, with the serial console as the way to see
// what happens. It is used by `genai-build boot`, by the boot tests and by the benchmarks.
package qemu

import (
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
	"sync"
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
	// Disks: a raw disk image (the embedded edition's) on a virtio, NVMe or SATA (AHCI) bus.
	Virtio Media = "virtio"
	NVMe   Media = "nvme"
	SATA   Media = "sata"
)

// Firmwares and Medias list the valid values, for flags and test matrices.
var (
	Firmwares = []Firmware{BIOS, UEFI, SecureBoot}
	Medias    = []Media{CD, USB, Virtio, NVMe, SATA}
	// ISOMedias boot an ISO (a CD, or the hybrid image written to a stick); DiskMedias a raw
	// disk image.
	ISOMedias  = []Media{CD, USB}
	DiskMedias = []Media{Virtio, NVMe, SATA, USB}
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
	return "", fmt.Errorf("unknown media %q: use cd, usb, virtio, nvme or sata", s)
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
	// Kernel, Initrd and Append boot a kernel directly (QEMU's -kernel), without a medium or a boot
	// loader: for measuring the kernel and the init alone. Image and Media are then unused.
	Kernel, Initrd, Append string
	// Vars is a UEFI variable store used (copied for each boot) instead of the firmware's own
	// template: with SecureBoot, one with an organisation's keys enrolled (internal/efivars), run
	// with OVMF's Secure Boot code (OVMF_CODE_4M.secboot.fd) instead of the Microsoft-keys one.
	Vars string
	// Reboot keeps QEMU running when the guest reboots (a reset, as a PC does), with the same
	// variable store; by default QEMU exits when the guest reboots (-no-reboot), which ends a boot
	// test at a panic or a reboot instead of booting again.
	Reboot bool
	// PanicOK: a kernel panic is part of what the test drives (a rollback after an update whose
	// kernel panics), so it does not fail the machine's waits as it does by default.
	PanicOK bool
	// Writable lets the guest write to Image (a USB stick or a disk): the A/B tests keep what
	// the boot loader and the system write. Default: the writes go to a temporary overlay
	// (QEMU's snapshot=on) and the image is left as it was. A CD is always read-only.
	Writable bool
	// QMP is the path of a unix socket for QEMU's machine protocol (Machine.QMP: the power
	// button, keys). Start makes one in the machine's own state folder when this is empty.
	QMP string
	// Display is the graphics card (default none); XRes and YRes its mode size, when set.
	Display    Display
	XRes, YRes int
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
	if c.Vars != "" {
		if c.Firmware == SecureBoot {
			// The same code as .ms.fd (a symlink in Debian's ovmf); named for what it is.
			code = filepath.Join(dir, "OVMF_CODE_4M.secboot.fd")
		}
		vars = c.Vars
	}
	if c.Vars != "" {
		if _, err := os.Stat(c.Vars); err != nil {
			return "", "", fmt.Errorf("UEFI variable store: %w", err)
		}
	}
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
	if c.Kernel == "" {
		if _, err := os.Stat(c.Image); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
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
		"-display", "none", "-serial", "stdio")
	if !c.Reboot {
		args = append(args, "-no-reboot")
	}
	if accel == AccelKVM {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		// QEMU's default CPU model lacks RDRAND, which every PC of the last decade has: without
		// it the kernel's random pool takes seconds to fill under emulation and the first
		// getrandom(2) at boot (SSH host key, DHCP) waits for it.
		args = append(args, "-accel", "tcg", "-cpu", "qemu64,+rdrand")
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
	switch {
	case c.Kernel != "":
		args = append(args, "-kernel", c.Kernel, "-initrd", c.Initrd, "-append", c.Append)
	case c.Media == CD:
		args = append(args, "-drive", "if=none,id=boot,media=cdrom,readonly=on,format=raw,"+img,
			"-device", "ide-cd,drive=boot,bootindex=0")
	default:
		dev, ok := diskDevices[c.Media]
		if !ok {
			return nil, fmt.Errorf("unknown media %q", c.Media)
		}
		drive := "if=none,id=boot,format=raw,"
		if !c.Writable {
			drive += "snapshot=on,"
		}
		args = append(args, "-drive", drive+img)
		args = append(args, dev...)
	}
	display, err := c.displayArgs()
	if err != nil {
		return nil, err
	}
	args = append(args, display...)
	if c.QMP != "" {
		args = append(args, "-qmp", "unix:"+strings.ReplaceAll(c.QMP, ",", ",,")+",server=on,wait=off")
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

// diskDevices attach the drive "boot" as a writable disk on each bus.
var diskDevices = map[Media][]string{
	USB:    {"-device", "qemu-xhci,id=xhci", "-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0"},
	Virtio: {"-device", "virtio-blk-pci,drive=boot,bootindex=0"},
	NVMe:   {"-device", "nvme,serial=genai0,drive=boot,bootindex=0"},
	// q35's own AHCI controller (ich9-ahci), its first port
	SATA: {"-device", "ide-hd,bus=ide.0,drive=boot,bootindex=0"},
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
	failNoPanic = regexp.MustCompile(`KVM internal error|emulation failure`)
	kernelInit  = regexp.MustCompile(`\[\s*([0-9]+\.[0-9]+)\] Run \S+ as init process`)
)

// Boot starts the machine, watches its console and stops it when the watch is over. With AccelAuto
// it uses KVM when it works and falls back to TCG when KVM fails (as it does under some nested
// hypervisors).
func Boot(ctx context.Context, c Config, w Watch) (*Result, error) {
	accel := c.Accel
	if accel == "" || accel == AccelAuto {
		accel = c.autoAccel()
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

// autoAccel is KVM when /dev/kvm opens and QEMU can set up a KVM CPU, else TCG. Some nested
// hypervisors offer /dev/kvm but fail at once ("failed to set MSR"); a paused QEMU (-S) shows that in
// milliseconds, and on a working host it simply stays paused until the probe ends it.
func (c Config) autoAccel() Accel {
	if !kvmUsable() || kvmBroken.Load() {
		return AccelTCG
	}
	probeOnce.Do(func() {
		bin, err := c.binary()
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		err = exec.CommandContext(ctx, bin, "-accel", "kvm", "-cpu", "host", "-machine", "q35", "-nodefaults",
			"-display", "none", "-S", "-monitor", "none", "-serial", "none").Run()
		if err != nil && ctx.Err() == nil {
			kvmBroken.Store(true)
		}
	})
	if kvmBroken.Load() {
		return AccelTCG
	}
	return AccelKVM
}

var probeOnce sync.Once

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
	timeout := w.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := start(ctx, c, accel, w.Fail, w.Log)
	if err != nil {
		return nil, err
	}
	defer m.Kill()
	res := &Result{Accel: accel}
	if w.Ready != nil {
		line, err := m.WaitFor(w.Ready)
		res.KernelInit, res.Console = m.KernelInit(), m.Console()
		if err != nil {
			return res, err
		}
		res.ReadyLine, res.ReadyAt = line, time.Since(m.started)
	}
	if w.KeepRunning || w.Ready == nil {
		if err := m.Wait(); err == nil {
			res.ExitedAt = time.Since(m.started)
		} else {
			var fe *FailError
			if errors.As(err, &fe) {
				return res, err
			}
		}
	}
	res.KernelInit, res.Console = m.KernelInit(), m.Console()
	return res, nil
}

// Machine is a running virtual machine whose serial console can be read and typed into.
type Machine struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	started time.Time
	state   string // per-boot firmware state folder, removed by Kill/Wait
	ctx     context.Context
	cancel  context.CancelFunc
	fail    *regexp.Regexp
	qmp     string // QMP socket path, "" without one
	cursor  int    // console line after the last WaitFor match
	// rawCursor is the console byte after the last Expect match.
	rawCursor int

	mu      sync.Mutex
	console bytes.Buffer
	lines   []string
	kinit   time.Duration
	changed chan struct{} // closed and replaced whenever a line arrives or QEMU exits
	exited  bool
	exitErr error
	failed  string
}

// Start boots the machine and returns at once; use WaitFor, Send and Wait to drive it. With
// AccelAuto it uses KVM when /dev/kvm opens (use Boot for the fall-back to TCG).
func Start(ctx context.Context, c Config) (*Machine, error) {
	accel := c.Accel
	if accel == "" || accel == AccelAuto {
		accel = c.autoAccel()
	}
	return start(ctx, c, accel, nil, nil)
}

func start(ctx context.Context, c Config, accel Accel, fail *regexp.Regexp, log io.Writer) (*Machine, error) {
	bin, err := c.binary()
	if err != nil {
		return nil, err
	}
	m := &Machine{fail: fail, changed: make(chan struct{})}
	if m.fail == nil {
		m.fail = defaultFail
		if c.PanicOK {
			m.fail = failNoPanic
		}
	}
	if c.StateDir == "" {
		d, err := os.MkdirTemp("", "genai-qemu-*")
		if err != nil {
			return nil, err
		}
		c.StateDir, m.state = d, d
		if c.QMP == "" {
			c.QMP = filepath.Join(d, "qmp.sock") // a temporary folder's path is short enough for a socket
		}
	}
	m.qmp = c.QMP
	args, err := c.Args(accel)
	if err != nil {
		m.cleanup()
		return nil, err
	}
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.cmd = exec.CommandContext(m.ctx, bin, args...)
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		m.cleanup()
		return nil, err
	}
	pr, pw := io.Pipe()
	m.cmd.Stdout, m.cmd.Stderr = pw, pw
	m.cmd.WaitDelay = 5 * time.Second
	m.started = time.Now()
	if err := m.cmd.Start(); err != nil {
		m.cleanup()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		err := m.cmd.Wait()
		pw.Close()
		m.mu.Lock()
		m.exited, m.exitErr = true, err
		m.mu.Unlock()
	}()
	go m.read(pr, log)
	return m, nil
}

// terminalQueries are what a full-screen program asks its terminal, with the answer a terminal
// emulator gives (ECMA-48 DSR 6 "report cursor position"; xterm OSC 10/11 "report colours").
// The console shell's line editor waits for them, so the machine answers as a terminal would.
var terminalQueries = []struct{ ask, answer string }{
	{"\x1b[6n", "\x1b[24;1R"},
	{"\x1b]10;?", "\x1b]10;rgb:ffff/ffff/ffff\x1b\\"},
	{"\x1b]11;?", "\x1b]11;rgb:0000/0000/0000\x1b\\"},
}

func (m *Machine) read(r io.Reader, log io.Writer) {
	buf := make([]byte, 32*1024)
	var partial []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			for _, q := range terminalQueries {
				for c := bytes.Count(chunk, []byte(q.ask)); c > 0; c-- {
					io.WriteString(m.stdin, q.answer)
				}
			}
			partial = append(partial, chunk...)
			m.mu.Lock()
			m.console.Write(chunk)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				line := strings.TrimRight(string(partial[:i]), "\r")
				partial = partial[i+1:]
				if log != nil {
					fmt.Fprintln(log, line)
				}
				m.lines = append(m.lines, line)
				if m.kinit == 0 {
					if sm := kernelInit.FindStringSubmatch(line); sm != nil {
						m.kinit, _ = time.ParseDuration(sm[1] + "s")
					}
				}
				if m.failed == "" && m.fail.MatchString(line) {
					m.failed = line
				}
			}
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	io.Copy(io.Discard, r)
	// QEMU has exited (its output is closed): wake every waiter for the last time.
	for {
		m.mu.Lock()
		done := m.exited
		if done {
			close(m.changed)
			m.changed = make(chan struct{})
		}
		m.mu.Unlock()
		if done {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitFor waits for a console line matching re that arrives after the previous WaitFor's match,
// and returns it. It fails when a failure line appears, QEMU exits, or the context ends.
func (m *Machine) WaitFor(re *regexp.Regexp) (string, error) {
	return m.waitFrom(re, &m.cursor, nil)
}

// ErrNotYet is WaitWithin's answer when no line matched in time; the machine runs on.
var ErrNotYet = errors.New("no matching console line yet")

// WaitWithin is WaitFor with a time limit of its own; when it passes, it returns ErrNotYet.
func (m *Machine) WaitWithin(re *regexp.Regexp, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	return m.waitFrom(re, &m.cursor, t.C)
}

// Find returns the first console line since QEMU started that matches re, waiting up to d for one
// to arrive (then ErrNotYet). Unlike WaitFor it neither depends on nor moves the cursor: for a line
// that may come before or after the lines a test waits for in order.
func (m *Machine) Find(re *regexp.Regexp, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	cursor := 0
	return m.waitFrom(re, &cursor, t.C)
}

func (m *Machine) waitFrom(re *regexp.Regexp, cursor *int, limit <-chan time.Time) (string, error) {
	for {
		m.mu.Lock()
		for ; *cursor < len(m.lines); *cursor++ {
			if re.MatchString(m.lines[*cursor]) {
				line := m.lines[*cursor]
				*cursor++
				m.mu.Unlock()
				return line, nil
			}
		}
		failed, exited, exitErr, ch := m.failed, m.exited, m.exitErr, m.changed
		m.mu.Unlock()
		switch {
		case failed != "":
			return "", &FailError{Reason: "console: " + failed, Console: m.Console()}
		case exited:
			reason := fmt.Sprintf("qemu exited before a line matched %q", re)
			if exitErr != nil {
				reason += " (" + exitErr.Error() + ")"
			}
			return "", &FailError{Reason: reason, Console: m.Console()}
		}
		select {
		case <-ch:
		case <-limit:
			return "", ErrNotYet
		case <-m.ctx.Done():
			return "", &FailError{Reason: fmt.Sprintf("no line matching %q: %v", re, context.Cause(m.ctx)), Console: m.Console()}
		}
	}
}

// Expect waits until the console prints s (also within a line that is not finished, such as a
// shell prompt) after the previous Expect's match, or returns ErrNotYet after d.
func (m *Machine) Expect(s string, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		m.mu.Lock()
		out := m.console.Bytes()
		if i := bytes.Index(out[min(m.rawCursor, len(out)):], []byte(s)); i >= 0 {
			m.rawCursor += i + len(s)
			m.mu.Unlock()
			return nil
		}
		exited, ch := m.exited, m.changed
		m.mu.Unlock()
		if exited {
			return &FailError{Reason: fmt.Sprintf("qemu exited before the console printed %q", s), Console: m.Console()}
		}
		select {
		case <-ch:
		case <-t.C:
			return ErrNotYet
		case <-m.ctx.Done():
			return &FailError{Reason: fmt.Sprintf("console never printed %q: %v", s, context.Cause(m.ctx)), Console: m.Console()}
		}
	}
}

// Mark returns the console's length so far and makes the next Expect look only at what follows.
func (m *Machine) Mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rawCursor = m.console.Len()
	return m.rawCursor
}

// Since is what the console printed from offset (a Mark) to the last Expect match.
func (m *Machine) Since(offset int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.console.Bytes()
	end := min(m.rawCursor, len(b))
	if offset > end {
		return ""
	}
	return string(b[offset:end])
}

// Send types s on the serial console.
func (m *Machine) Send(s string) error {
	_, err := io.WriteString(m.stdin, s)
	return err
}

// Wait waits until QEMU exits by itself (e.g. the guest powered off) and returns its error, if any.
func (m *Machine) Wait() error {
	for {
		m.mu.Lock()
		exited, err, ch := m.exited, m.exitErr, m.changed
		m.mu.Unlock()
		if exited {
			m.cleanup()
			if m.ctx.Err() != nil {
				return &FailError{Reason: "timed out waiting for QEMU to exit", Console: m.Console()}
			}
			if err != nil {
				return &FailError{Reason: "qemu: " + err.Error(), Console: m.Console()}
			}
			return nil
		}
		select {
		case <-ch:
		case <-m.ctx.Done():
			m.Kill()
			return &FailError{Reason: "timed out waiting for QEMU to exit", Console: m.Console()}
		}
	}
}

// Kill stops QEMU (if it still runs) and removes the machine's state.
func (m *Machine) Kill() {
	m.cancel()
	for i := 0; i < 500; i++ {
		m.mu.Lock()
		exited := m.exited
		m.mu.Unlock()
		if exited {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.cleanup()
}

func (m *Machine) cleanup() {
	if m.state != "" {
		os.RemoveAll(m.state)
	}
}

// Console is everything the machine printed so far.
func (m *Machine) Console() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.console.Bytes()...)
}

// KernelInit is the kernel's timestamp of running /init, if it printed it.
func (m *Machine) KernelInit() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kinit
}

// Elapsed is the wall time since QEMU started.
func (m *Machine) Elapsed() time.Duration { return time.Since(m.started) }

// Interactive runs the machine with the serial console on the given terminal streams until it
// exits (Ctrl-A X quits QEMU).
func Interactive(ctx context.Context, c Config, accel Accel, stdin io.Reader, stdout, stderr io.Writer) error {
	bin, err := c.binary()
	if err != nil {
		return err
	}
	if accel == "" || accel == AccelAuto {
		accel = c.autoAccel()
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
