package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/genai-os/genai-build/internal/desktoplook"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/screen"
)

// desktopFigures boots the desktop ISO as a user meets it (SeaBIOS, a CD, QEMU's standard VGA,
// a USB tablet; 2 GiB): QEMU start → the first frame of the session (screendumps every 250 ms
// until the bar is drawn), the ready line, and the guest's memory in use (MemTotal −
// MemAvailable) with the session idle 30 s after it came up, Firefox showing the welcome page.
// It takes the boot menu's debug entry, whose root shell on the serial console reads the memory.
func desktopFigures(root, image string) ([]row, error) {
	// the bar's colour is the session's sway configuration's
	look, err := desktoplook.Load(filepath.Join(root, "overlays/desktop/etc/sway/config"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	m, err := qemu.Start(ctx, qemu.Config{Image: image, Firmware: qemu.BIOS, Media: qemu.CD, MemoryMB: 2048, CPUs: 1,
		Display: qemu.StdVGA, Extra: []string{"-device", "qemu-xhci", "-device", "usb-tablet"}})
	if err != nil {
		return nil, err
	}
	defer m.Kill()
	if err := m.Expect("boot: ", 3*time.Minute); err != nil {
		return nil, fmt.Errorf("no ISOLINUX prompt: %w", err)
	}
	if err := m.Send("debug\r"); err != nil {
		return nil, err
	}
	if _, err := screen.WaitUntil(ctx, m.Screen, 250*time.Millisecond, look.BarDrawn); err != nil {
		return nil, fmt.Errorf("the session's bar was never drawn: %w\n%s", err, tailOf(m.Console(), 3000))
	}
	first := m.Elapsed()
	ready := regexp.MustCompile(`genai-os: ready .*boot_ms=([0-9]+)`)
	line, err := m.Find(ready, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	guestMS, _ := strconv.Atoi(ready.FindStringSubmatch(line)[1])
	time.Sleep(30 * time.Second)
	from := m.Mark()
	if err := m.Send("grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; echo MEM''DONE\r"); err != nil {
		return nil, err
	}
	if err := m.Expect("MEMDONE", time.Minute); err != nil {
		return nil, fmt.Errorf("reading /proc/meminfo on the debug shell: %w", err)
	}
	out := m.Since(from)
	kb := func(name string) int64 {
		v := regexp.MustCompile(name + `:\s+([0-9]+) kB`).FindStringSubmatch(out)
		if v == nil {
			return -1
		}
		n, _ := strconv.ParseInt(v[1], 10, 64)
		return n
	}
	total, avail := kb("MemTotal"), kb("MemAvailable")
	if total < 0 || avail < 0 {
		return nil, fmt.Errorf("no MemTotal and MemAvailable in:\n%s", out)
	}
	return []row{
		{"QEMU start → first frame of the session (BIOS, CD, std VGA)", secs(first), "screendumps every 250 ms until sway's bar is drawn; target ≤ 45 s"},
		{"kernel start → ready line", secs(time.Duration(guestMS) * time.Millisecond), "guest time (boot_ms); ready: sway answers on its IPC socket"},
		{"memory used, session idle 30 s after it came up", fmt.Sprintf("%d MiB", (total-avail)/1024), "MemTotal − MemAvailable; Firefox, started at login, still loading the welcome page under TCG; target ≤ 600 MB"},
	}, nil
}
