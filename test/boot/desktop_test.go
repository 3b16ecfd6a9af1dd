package boot_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// The desktop's colours (overlays/desktop/etc/sway/config): the bar at the top and the background.
var (
	desktopBar        = [3]uint8{0xf1, 0xc4, 0x0f}
	desktopBackground = [3]uint8{0x1d, 0x35, 0x57}
)

// desktopBootUnits are the desktop's boot units: machine-id, udevd, udev-coldplug, seatd, dbus,
// desktop-caches, desktop-session and session-ready, plus modules-loaded.target, which udevd wants.
const desktopBootUnits = "9"

// TestDesktop boots the desktop ISO under SeaBIOS from a CD with QEMU's standard VGA (bochs-drm),
// once: the ready line comes only when sway answers on its IPC socket (session-ready.service).
// Over the serial console (the debug entry's root shell) sway's IPC lists the output; a PPM
// screendump shows the bar drawn at the top over the background; foot, started through sway's
// IPC, is listed as a window.
func TestDesktop(t *testing.T) {
	needQEMU(t)
	res := buildISO(t, "desktop", build.Options{Edition: "desktop"})
	state := t.TempDir()
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD, MemoryMB: 2048,
		StateDir: state, QMP: filepath.Join(state, "qmp.sock"), Extra: []string{"-vga", "std", "-device", "qemu-xhci", "-device", "usb-tablet"}}, 15*time.Minute)
	chooseDebug(t, vm)
	line, err := vm.Find(readyLine("desktop"), 5*time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	if m := readyLine("desktop").FindStringSubmatch(line); m[3] != desktopBootUnits || m[4] != desktopBootUnits {
		t.Errorf("ready line %q: want services=%s/%s", line, desktopBootUnits, desktopBootUnits)
	}
	t.Logf("QEMU start to the session up (ready line): %s; %s", vm.Elapsed().Round(100*time.Millisecond), line)
	run := bashRunner(t, vm)
	// -r: sway's JSON as it is, also on a terminal
	const swaymsg = "swaymsg -r -s /run/user/1000/sway-ipc.sock "

	tree := run(swaymsg + "-t get_tree")
	if !regexp.MustCompile(`"name":\s*"Virtual-1"`).MatchString(tree) {
		t.Errorf("sway's tree lists no output Virtual-1:\n%s", tree)
	}

	// The bar is swaybar, a client sway starts after it answers on its socket: take screendumps
	// until it is drawn (the first whole frame of the session), for at most a minute.
	shot := filepath.Join(state, "desktop.ppm")
	var img *ppm
	for deadline := time.Now().Add(time.Minute); ; {
		img = screendump(t, vm, shot)
		if img.share(img.w/4, 4, img.w/2, 14, desktopBar) >= 0.98 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("QEMU start to the bar drawn: %s (screendump %dx%d in %s)", vm.Elapsed().Round(100*time.Millisecond), img.w, img.h, shot)
	// The bar: its middle is free of text (workspace buttons left, the clock right).
	if f := img.share(img.w/4, 4, img.w/2, 14, desktopBar); f < 0.98 {
		t.Errorf("bar at the top: %.0f%% of the region is %x, want 98%%", f*100, desktopBar)
	}
	if f := img.share(img.w/4, img.h/4, img.w/2, img.h/2, desktopBackground); f < 0.98 {
		t.Errorf("background: %.0f%% of the region is %x, want 98%%", f*100, desktopBackground)
	}
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), "genai-desktop-failed.ppm")
		if b, err := os.ReadFile(shot); err == nil && os.WriteFile(keep, b, 0o644) == nil {
			t.Logf("the screendump is kept in %s", keep)
		}
	}

	run(swaymsg + "exec foot")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		tree = run(swaymsg + "-t get_tree | grep -c '\"app_id\": *\"foot\"'")
		if strings.TrimSpace(tree) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no foot window in sway's tree after 2 minutes:\n%s\n%s", tree, run("cat /var/log/consciousness/desktop-session.service.log"))
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("guest memory:\n%s", run("free -m"))
}

// screendump writes the guest's screen to path through QMP and reads it back. PPM: QEMU 7.2's PNG
// output swaps red and blue.
func screendump(t *testing.T, vm *qemu.Machine, path string) *ppm {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := vm.QMP(ctx, "screendump", map[string]any{"filename": path, "format": "ppm"}); err != nil {
		t.Fatalf("screendump: %v", err)
	}
	img, err := readPPM(path)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// bashRunner types a command into the root shell of the debug entry (bash) and returns what it
// printed: the command ends with an echo of a marker that only the shell's arithmetic makes, so
// the typed line itself never matches.
func bashRunner(t *testing.T, m *qemu.Machine) func(cmd string) string {
	n := 1000
	return func(cmd string) string {
		t.Helper()
		n++
		marker := fmt.Sprintf("@@%d@@", n)
		from := m.Mark()
		if err := m.Send(fmt.Sprintf("%s; echo @@$((%d+1))@@\r", cmd, n-1)); err != nil {
			t.Fatal(err)
		}
		if err := m.Expect(marker, 2*time.Minute); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, m.Console())
		}
		// bash's bracketed-paste switches (ESC [?2004h, ESC [?2004l) frame each command's output
		out := ansiEscape.ReplaceAllString(m.Since(from), "")
		if i := strings.Index(out, "\n"); i >= 0 { // the echoed command line
			out = out[i+1:]
		}
		return strings.TrimSuffix(out, marker)
	}
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[a-zA-Z]`)

// ppm is a binary PPM (P6, maxval 255) as QEMU's screendump writes it.
type ppm struct {
	w, h int
	pix  []byte
}

func readPPM(path string) (*ppm, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(bytes.NewReader(b))
	var magic string
	var w, h, maxval int
	// netpbm(5): magic, width, height, maxval separated by whitespace, then one whitespace byte.
	if _, err := fmt.Fscan(r, &magic, &w, &h, &maxval); err != nil || magic != "P6" || maxval != 255 {
		return nil, fmt.Errorf("%s: not a P6 PPM with maxval 255 (%v)", path, err)
	}
	if _, err := r.ReadByte(); err != nil {
		return nil, err
	}
	pix := make([]byte, w*h*3)
	if _, err := io.ReadFull(r, pix); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &ppm{w, h, pix}, nil
}

// share is the fraction of the pixels of the rectangle (x, y, w, h) within 8 of c in each channel.
func (p *ppm) share(x, y, w, h int, c [3]uint8) float64 {
	near := func(a, b uint8) bool { return int(a)-int(b) <= 8 && int(b)-int(a) <= 8 }
	hit := 0
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			o := (j*p.w + i) * 3
			if near(p.pix[o], c[0]) && near(p.pix[o+1], c[1]) && near(p.pix[o+2], c[2]) {
				hit++
			}
		}
	}
	return float64(hit) / float64(w*h)
}
