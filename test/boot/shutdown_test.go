package boot_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/initrd"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

// directBoot is a direct kernel boot (no firmware menu or loader) of res's own kernel and
// initramfs, with extra laid over the initramfs as one more uncompressed cpio segment (the
// kernel unpacks each segment over the last: see internal/initrd), and console= plus cmdline
// as the kernel command line.
func directBoot(t *testing.T, res *build.Result, extra *fstree.Tree, cmdline string) qemu.Config {
	t.Helper()
	dir := t.TempDir()
	kernel, err := iso.ReadFile(res.Image, "boot/vmlinuz")
	if err != nil {
		t.Fatal(err)
	}
	rd, err := iso.ReadFile(res.Image, "boot/initrd.img")
	if err != nil {
		t.Fatal(err)
	}
	if extra != nil {
		var seg, joined bytes.Buffer
		if err := initrd.Write(&seg, extra, initrd.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := initrd.Concat(&joined, bytes.NewReader(rd), &seg); err != nil {
			t.Fatal(err)
		}
		rd = joined.Bytes()
	}
	cfg := qemu.Config{Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img"),
		Append: "console=ttyS0,115200 " + cmdline}
	if err := os.WriteFile(cfg.Kernel, kernel, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Initrd, rd, 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// addFile puts a file into tree or fails the test.
func addFile(t *testing.T, tree *fstree.Tree, path string, mode os.FileMode, data []byte) {
	t.Helper()
	if err := tree.Add(fstree.Entry{Path: path, Kind: fstree.File, Mode: mode, Data: data, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
}

// orderedUnits are two long-running test units, second ordered after first: a shutdown must stop
// second before it stops first.
func orderedUnits(t *testing.T) *fstree.Tree {
	tree := fstree.New()
	addFile(t, tree, "etc/consciousness/services/first.service", 0o644,
		[]byte("[Unit]\nDescription=stops last (shutdown test)\n\n[Service]\nExecStart=/bin/sleep 100000\n"))
	addFile(t, tree, "etc/consciousness/services/second.service", 0o644,
		[]byte("[Unit]\nDescription=stops first (shutdown test)\nAfter=first.service\nWants=first.service\n\n[Service]\nExecStart=/bin/sleep 100000\n"))
	return tree
}

// inOrder checks that console holds each of lines (regular expressions), one after the other.
func inOrder(t *testing.T, console string, lines ...string) {
	t.Helper()
	rest := console
	for _, l := range lines {
		loc := regexp.MustCompile(l).FindStringIndex(rest)
		if loc == nil {
			t.Errorf("console lacks %q after the lines before it; console:\n%s", l, console)
			return
		}
		rest = rest[loc[1]:]
	}
}

var goneDown = regexp.MustCompile(`file systems synced, (powering off|rebooting) ms=([0-9]+)`)

// TestPowerButton presses the ACPI power button, as a VM manager's "shutdown" does: the units stop
// in reverse dependency order, the logs are flushed, the file systems synced, and QEMU exits
// with status 0 within 10 s of guest time.
func TestPowerButton(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	m := startVM(t, directBoot(t, res, orderedUnits(t), ""), 5*time.Minute)
	if _, err := m.WaitFor(ready); err != nil {
		t.Fatal(err)
	}
	// The button driver loads in the background after the ready line: press once it is watched.
	if _, err := m.WaitFor(regexp.MustCompile(`power button watched devices="?/dev/input/event`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.PowerButton(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(); err != nil { // exit status 0: a clean power-off, not a kill or a crash
		t.Fatalf("after the power button: %v", err)
	}
	console := string(m.Console())
	inOrder(t, console, `power button pressed`, `going down action=poweroff`,
		`stopping .*unit=second\.service`, `stopped .*unit=second\.service`, `stopping .*unit=first\.service`,
		`services stopped`, `service logs flushed`, `file systems synced, powering off`)
	for _, u := range []string{"first.service", "second.service", "sshd.socket"} {
		if !regexp.MustCompile(`stopped .*unit=` + regexp.QuoteMeta(u)).MatchString(console) {
			t.Errorf("no line for %s stopping", u)
		}
	}
	sm := goneDown.FindStringSubmatch(console)
	if sm == nil {
		t.Fatal("no final line")
	}
	if ms, _ := strconv.Atoi(sm[2]); ms > 10000 {
		t.Errorf("shutdown took %d ms of guest time, want at most 10 s", ms)
	} else {
		t.Logf("power button to power-off: %d ms of guest time", ms)
	}
}

// TestCtrlAltDel presses Ctrl-Alt-Del on the keyboard: the kernel hands it to PID 1 as SIGINT,
// which reboots cleanly; with -no-reboot QEMU then exits with status 0.
func TestCtrlAltDel(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	m := startVM(t, directBoot(t, res, orderedUnits(t), ""), 5*time.Minute)
	if _, err := m.WaitFor(ready); err != nil { // the init turns Ctrl-Alt-Del into SIGINT before it
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.SendKeys(ctx, "ctrl", "alt", "delete"); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(); err != nil {
		t.Fatalf("after Ctrl-Alt-Del: %v", err)
	}
	inOrder(t, string(m.Console()), `signal signal=SIGINT action=reboot`, `going down action=reboot`,
		`stopped .*unit=second\.service`, `stopped .*unit=first\.service`, `file systems synced, rebooting`)
}

// faultInits holds the init built with the faultinject tag, once for the tests that need it.
var faultInits struct {
	once sync.Once
	data []byte
	err  error
}

// faultInit is the init built with the faultinject tag (fault injection is compiled only into
// such builds, so no normal image can reach it), as a tree to lay over the image's initramfs.
func faultInit(t *testing.T) *fstree.Tree {
	t.Helper()
	faultInits.once.Do(func() {
		bin := filepath.Join(t.TempDir(), "consciousness-init")
		cmd := exec.Command("go", "build", "-tags", "faultinject", "-trimpath", "-o", bin, "./initramfs/cmd/consciousness-init")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			faultInits.err = fmt.Errorf("go build -tags faultinject: %v\n%s", err, out)
			return
		}
		faultInits.data, faultInits.err = os.ReadFile(bin)
	})
	if faultInits.err != nil {
		t.Fatal(faultInits.err)
	}
	// Beside the image's own init, not over it: the root check (initramfs/rootcheck) would see the
	// image's init changed and rightly refuse to boot. The kernel runs it by faultRdinit.
	tree := fstree.New()
	addFile(t, tree, strings.TrimPrefix(faultRdinit, "/"), 0o755, faultInits.data)
	return tree
}

// faultRdinit is where faultInit puts the faultinject build; boots pass rdinit= with it.
const faultRdinit = "/usr/sbin/consciousness-init-fault"

// TestEarlyPanic makes boot panic before the init has set up its logger: the panic must still
// reach the console (it once went to a discarding logger, and the machine hung without a word).
func TestEarlyPanic(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	m := startVM(t, directBoot(t, res, faultInit(t), "rdinit="+faultRdinit+" consciousness.fault=early"), 5*time.Minute)
	if _, err := m.WaitFor(regexp.MustCompile(`consciousness-init: ERROR panic in PID 1, continuing panic="injected early fault.*stack=`)); err != nil {
		t.Fatal(err)
	}
}

// TestSupervisorPanic boots the faultinject init and makes the supervisor goroutine of
// sshd.socket panic: the panic is logged with its stack, the unit fails, and PID 1 still
// answers consciousness-manager.
func TestSupervisorPanic(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	tree := faultInit(t)
	m := startVM(t, directBoot(t, res, tree, "rdinit="+faultRdinit+" consciousness.test=shell consciousness.fault=supervisor:sshd.socket"), 5*time.Minute)
	if _, err := m.WaitFor(regexp.MustCompile(`panic recovered, PID 1 keeps running .*in="supervisor of sshd\.socket" panic="injected fault.*stack=.*runLoop`)); err != nil {
		t.Fatal(err)
	}
	// The server's one boot unit failed: the boot ends with the failed line naming it, never ready
	// (README: the ready and failed lines), and the system goes on answering.
	if _, err := m.WaitFor(regexp.MustCompile(`genai-os: failed reason=units .*services=0/1 .*sshd\.socket`)); err != nil {
		t.Fatal(err)
	}
	if err := m.Expect("$ ", time.Minute); err != nil {
		t.Fatalf("no shell prompt: %v", err)
	}
	run := func(cmd string) string {
		t.Helper()
		from := m.Mark()
		if err := m.Send(cmd + "\r"); err != nil {
			t.Fatal(err)
		}
		if err := m.Expect("\n$ ", time.Minute); err != nil {
			t.Fatalf("%s: no prompt after it: %v", cmd, err)
		}
		return strings.ReplaceAll(m.Since(from), "\r", "")
	}
	if out := run("consciousness-manager status"); !regexp.MustCompile(`sshd\.socket\s+failed\s.*internal error`).MatchString(out) {
		t.Errorf("status after the panic:\n%s", out)
	}
	// The flag after the verb, as systemctl takes it (issue 8, item 7).
	if out := run("consciousness-manager status --json sshd.socket"); !strings.Contains(out, `"name": "sshd.socket"`) ||
		!strings.Contains(out, `"state": "failed"`) {
		t.Errorf("status --json:\n%s", out)
	}
	if err := m.Send("exit\r"); err != nil { // the test shell's end powers off
		t.Fatal(err)
	}
	if err := m.Wait(); err != nil {
		t.Fatalf("power-off after the shell: %v", err)
	}
}
