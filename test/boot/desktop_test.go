package boot_test

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/desktoplook"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/screen"
	"github.com/genai-os/genai-build/internal/welcome"
)

// The welcome page's marker block (internal/welcome), and the colour the test paints in the
// terminal, which nothing else on the screen has. The bar's and the background's colours are the
// desktop's sway configuration's (desktopLook).
var (
	welcomeMarker  = screen.Colour{R: welcome.MarkerRGB[0], G: welcome.MarkerRGB[1], B: welcome.MarkerRGB[2]}
	terminalMarker = screen.Colour{R: 0x00, G: 0xff, B: 0x7f}
)

// desktopLook is what the desktop's session shows before any window opens, read once from
// overlays/desktop/etc/sway/config.
var desktopLook = sync.OnceValues(func() (desktoplook.Look, error) {
	return desktoplook.Load(filepath.Join(root, "overlays/desktop/etc/sway/config"))
})

// lookOf returns the desktop's look, or fails the test when its sway configuration says none.
func lookOf(t *testing.T) desktoplook.Look {
	t.Helper()
	l, err := desktopLook()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// desktopBootUnits are the desktop's boot units: machine-id, udevd, udev-coldplug, seatd, dbus,
// desktop-caches, desktop-session and session-ready, plus modules-loaded.target, which udevd wants.
const desktopBootUnits = "9"

// desktopISO is the desktop edition, built once for the desktop tests.
func desktopISO(t *testing.T) *build.Result {
	return buildISO(t, "desktop", build.Options{Edition: "desktop"})
}

// desktopVM boots the desktop ISO with the debug entry's root shell on the serial console when
// the firmware is BIOS (ISOLINUX's prompt), with a USB tablet as QEMU's pointer, and waits for
// the ready line: the session is up (session-ready.service ends when sway answers on its socket).
func desktopVM(t *testing.T, row bootRow, display qemu.Display) *qemu.Machine {
	t.Helper()
	vm, line := desktopImageVM(t, "desktop", desktopISO(t).Image, desktopBootUnits, row.fw, row.media, display)
	// the matrix's checks and its line for genai-build release --tested
	if want := firmwareLine(row.fw); !strings.Contains(string(vm.Console()), want) {
		t.Errorf("the init did not report %q", want)
	}
	t.Logf("%s: ready after %.1fs wall, image sha256=%s: %s", row.name(), vm.Elapsed().Seconds(), row.imageSHA256(t), line)
	return vm
}

// desktopRows are the desktop's rows of the boot matrix that look at the screen after the ready
// line: BIOS from a CD on std VGA, as a user meets it, and Secure Boot from a USB stick on
// virtio-vga. (TestBootMatrix runs them in place of its plain boot.)
var desktopRows = map[string]func(*testing.T, bootRow){
	"desktop-iso-bios-cd":        desktopSession,
	"desktop-iso-secureboot-usb": desktopSecureBoot,
}

// desktopImageVM boots an edition's desktop ISO as desktopVM does and waits for its ready line
// with units boot units, all up.
func desktopImageVM(t *testing.T, edition, iso, units string, fw qemu.Firmware, md qemu.Media, display qemu.Display) (*qemu.Machine, string) {
	t.Helper()
	state := t.TempDir()
	vm := startVM(t, qemu.Config{Image: iso, Firmware: fw, Media: md, MemoryMB: 2048, Display: display,
		StateDir: state, QMP: filepath.Join(state, "qmp.sock"), Extra: []string{"-device", "qemu-xhci", "-device", "usb-tablet"}}, 20*time.Minute)
	if fw == qemu.BIOS {
		chooseDebug(t, vm)
	}
	line, err := vm.Find(readyLine(edition), 8*time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	if m := readyLine(edition).FindStringSubmatch(line); m[3] != units || m[4] != units {
		t.Errorf("ready line %q: want services=%s/%s", line, units, units)
	}
	t.Logf("QEMU start to the session up (ready line): %s; %s", vm.Elapsed().Round(100*time.Millisecond), line)
	return vm, line
}

// shots saves screenshots under the test's artifact folder ($GENAI_TEST_ARTIFACTS, default
// test-results/artifacts), which it logs.
func shots(t *testing.T) func(name string, img image.Image) {
	art, err := filepath.Abs(screen.ArtifactDir(os.Getenv, "../../test-results/artifacts", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", art)
	return func(name string, img image.Image) {
		if img == nil {
			return
		}
		if err := screen.WritePNG(filepath.Join(art, name+".png"), img); err != nil {
			t.Error(err)
		}
	}
}

// desktopSession (TestBootMatrix/desktop-iso-bios-cd) boots the desktop ISO as a user meets it:
// SeaBIOS, a CD, QEMU's standard VGA (bochs-drm), and looks at the screen (PPM screendumps through QMP, internal/screen):
//   - the session's bar is drawn; on an empty workspace the background fills the screen below it,
//     with no dialog (swaynag) over it; the USB tablet moves the cursor where it points;
//   - Firefox has opened the welcome page by itself (first login): its marker block is on the
//     screen, and the page's heading matches its needle (openQA's tolerant match);
//   - Super+Return, sent as keys, opens foot; a printf typed into it paints a line of a colour
//     nothing else has, found on the screen;
//   - sway's IPC, from the debug entry's root shell, lists the output, Firefox's and foot's
//     windows; the session's log has no GTK warning (schemas, pixbuf loaders, icon theme);
//   - the live user powers the machine off from the session (consciousness-manager, run by sway
//     as genai), and the init goes down cleanly.
func desktopSession(t *testing.T, row bootRow) {
	vm := desktopVM(t, row, qemu.StdVGA)
	save := shots(t)
	look := lookOf(t)
	bg := look.Background
	run := bashRunner(t, vm)
	const swaymsg = "swaymsg -r -s /run/user/1000/sway-ipc.sock " // -r: sway's JSON as it is
	if tree := run(swaymsg + "-t get_tree"); !regexp.MustCompile(`"name":\s*"Virtual-1"`).MatchString(tree) {
		t.Errorf("sway's tree lists no output Virtual-1:\n%s", tree)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	wait := func(what string, d time.Duration, ok func(image.Image) bool) image.Image {
		t.Helper()
		c, stop := context.WithTimeout(ctx, d)
		defer stop()
		img, err := screen.WaitUntil(c, vm.Screen, time.Second, ok)
		if err != nil {
			save("failed-"+strings.ReplaceAll(what, " ", "-"), img)
			t.Fatalf("%s: %v\n%s", what, err, run("tail -40 /var/log/consciousness/desktop-session.service.log"))
		}
		t.Logf("%s at %s from QEMU start", what, vm.Elapsed().Round(100*time.Millisecond))
		return img
	}

	// The session's first frame, then an empty workspace: the bar over the background.
	save("1-session", wait("the bar drawn", 2*time.Minute, look.BarDrawn))
	run(swaymsg + "workspace number 2")
	empty := wait("the background of an empty workspace", time.Minute, func(img image.Image) bool {
		b := img.Bounds()
		return look.BarDrawn(img) && screen.Fraction(img, image.Rect(0, 40, b.Dx(), b.Dy()), bg, 8) >= 0.99
	})
	save("2-empty-workspace", empty)

	// The pointer: QEMU's USB tablet, through udev and libinput, moves sway's cursor (drawn in
	// software, WLR_NO_HARDWARE_CURSORS) to where the tablet says: a quarter across, three
	// quarters down (the tablet's axes run 0 to 0x7fff over the screen).
	b := empty.Bounds()
	to := image.Pt(b.Dx()/4, b.Dy()*3/4)
	if _, err := vm.QMP(ctx, "input-send-event", map[string]any{"events": []map[string]any{
		{"type": "abs", "data": map[string]any{"axis": "x", "value": 0x7fff / 4}},
		{"type": "abs", "data": map[string]any{"axis": "y", "value": 0x7fff * 3 / 4}}}}); err != nil {
		t.Fatal(err)
	}
	moved := wait("the cursor at the tablet's position", time.Minute, func(img image.Image) bool {
		return screen.Fraction(img, image.Rect(to.X-2, to.Y-2, to.X+24, to.Y+24), bg, 8) < 0.9 &&
			screen.Fraction(img, image.Rect(0, 40, to.X-40, b.Dy()), bg, 8) >= 0.99
	})
	save("2-pointer", moved)

	// The welcome page, which Firefox opened at login, on workspace 1.
	run(swaymsg + "workspace number 1")
	needle, err := screen.LoadNeedle(os.DirFS("testdata/needles"), "desktop-welcome")
	if err != nil {
		t.Fatal(err)
	}
	page := wait("the welcome page in Firefox", 8*time.Minute, func(img image.Image) bool {
		b := img.Bounds()
		_, _, ok := screen.FindRun(img, image.Rect(0, 40, b.Dx(), b.Dy()/2), welcomeMarker, 4, b.Dx()*2/3)
		return ok
	})
	save("3-welcome", page)
	if r := needle.Match(page); !r.OK {
		t.Errorf("the welcome page's heading does not match its needle: similarity %.3f", r.Similarity())
	}
	if tree := run(swaymsg + "-t get_tree"); !regexp.MustCompile(`"app_id":\s*"firefox-esr"`).MatchString(tree) {
		t.Errorf("sway's tree lists no Firefox window:\n%s", tree)
	}

	// Keys: Super+Return opens foot, which takes the focus; a printf typed there paints a line.
	if err := vm.SendKey(ctx, "meta_l-ret"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(2 * time.Second) {
		if strings.Contains(run(swaymsg+"-t get_tree | grep -c '\"app_id\": *\"foot\"'"), "1") {
			break
		}
		if time.Now().After(deadline) {
			save("failed-no-terminal", func() image.Image { img, _ := vm.Screen(ctx); return img }())
			t.Fatalf("Super+Return: no foot window in sway's tree after 3 minutes:\n%s", run("tail -40 /var/log/consciousness/desktop-session.service.log"))
		}
	}
	time.Sleep(3 * time.Second) // foot's first prompt
	if err := vm.TypeString(ctx, "printf '\\e[48;2;0;255;127m%50s\\e[m\\n' ''\n"); err != nil {
		t.Fatal(err)
	}
	term := wait("the line painted in the terminal", 2*time.Minute, func(img image.Image) bool {
		_, _, ok := screen.FindRun(img, img.Bounds(), terminalMarker, 4, 200)
		return ok
	})
	save("4-terminal", term)

	// GTK programs start without warnings of missing schemas, pixbuf loaders or icon themes.
	if warn := run("grep -iE 'gtk-warning|glib-gio-warning|gdk-pixbuf|gsettings|schema|icon theme' /var/log/consciousness/desktop-session.service.log | head -20"); strings.TrimSpace(warn) != "" {
		t.Errorf("the session's log has GTK warnings:\n%s", warn)
	}
	// Fonts for Latin, Greek and Cyrillic: fontconfig has a family that covers each language.
	for _, lang := range []string{"en", "el", "ru"} {
		if fams := run("fc-list :lang=" + lang + " family | sort -u"); !strings.Contains(fams, "DejaVu Sans") {
			t.Errorf("no font for :lang=%s, want DejaVu Sans:\n%s", lang, fams)
		}
	}
	t.Logf("guest memory:\n%s", run("free -m"))

	// Power off from the session: the live user's consciousness-manager, run by sway.
	// (sent without waiting for the shell: the machine may be gone before it prints again)
	if err := vm.Send(swaymsg + "exec 'consciousness-manager poweroff'\r"); err != nil {
		t.Fatal(err)
	}
	if err := vm.Wait(); err != nil {
		t.Fatalf("power-off from the session: %v\n%s", err, vm.Console())
	}
	inOrder(t, string(vm.Console()), `going down action=poweroff`, `services stopped`, `file systems synced, powering off`)
}

// desktopSecureBoot (TestBootMatrix/desktop-iso-secureboot-usb) boots the desktop ISO from a USB stick under OVMF with Secure Boot and
// Microsoft's keys (shim, GRUB, Debian's signed kernel), on virtio-vga (virtio-gpu): the session
// comes up and draws its bar on that card too; then the ACPI power button powers it off cleanly.
func desktopSecureBoot(t *testing.T, row bootRow) {
	look := lookOf(t)
	vm := desktopVM(t, row, qemu.VirtioVGA)
	save := shots(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := screen.WaitUntil(ctx, vm.Screen, time.Second, look.BarDrawn)
	save("1-session", img)
	if err != nil {
		t.Fatalf("the bar on virtio-vga: %v", err)
	}
	if _, err := vm.WaitFor(regexp.MustCompile(`power button watched devices="?/dev/input/event`)); err != nil {
		t.Fatal(err)
	}
	if err := vm.PowerButton(ctx); err != nil {
		t.Fatal(err)
	}
	if err := vm.Wait(); err != nil {
		t.Fatalf("after the power button: %v", err)
	}
	inOrder(t, string(vm.Console()), `power button pressed`, `going down action=poweroff`, `file systems synced, powering off`)
}

// desktopLoginYAML is the desktop with autologin off: genai has a password (genai-live), and the
// session starts when genai logs in on the screen's console.
const desktopLoginYAML = `# test/boot: the desktop edition without autologin.
name: desktop-login
extends: desktop
users:
  - name: genai
    uid: 1000
    comment: GenAI OS live user
    shell: /bin/bash
    groups: [video, input, render, consciousness]
    # openssl passwd -6 -salt desktoplogin genai-live
    password_hash: $6$desktoplogin$P3p393twnKVzMG7fpSdtwNU1DCk.olRengXE12MCpPfjvzcMEXk/D63529EehGEKDRJOkscuN2Xbz2Q8Yg19b/
session:
  autologin: false
`

// desktopLoginUnits are the desktop's boot units but the two of the session (desktop-session and
// session-ready), which its condition skips without autologin.
const desktopLoginUnits = "7"

// TestDesktopLogin: with session.autologin: false the desktop boots to a login prompt on the
// screen, not to a session. The live user logs in there with the keyboard, and the session
// comes up as that user with the user's groups; logging out of it (swaymsg exit) ends the login
// and the console asks again; a second login starts the session again, and the user reboots the
// machine from it (consciousness-manager through the init's control socket, as the consciousness
// group's member).
func TestDesktopLogin(t *testing.T) {
	needQEMU(t)
	t.Parallel()
	dir, err := writeEditions(map[string]string{"desktop-login": desktopLoginYAML})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(dir)) })
	look := lookOf(t)
	res := buildISO(t, "desktop-login", build.Options{Edition: "desktop-login", EditionsDir: dir})
	vm, _ := desktopImageVM(t, "desktop-login", res.Image, desktopLoginUnits, qemu.BIOS, qemu.CD, qemu.StdVGA)
	save := shots(t)
	run := bashRunner(t, vm)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	if st := run("consciousness-manager status desktop-session.service"); !strings.Contains(st, "ConditionPathExists=!/etc/genai/no-autologin") {
		t.Errorf("desktop-session.service was not skipped by its condition:\n%s", st)
	}
	img, err := vm.Screen(ctx)
	save("1-login-prompt", img)
	if err != nil || look.BarDrawn(img) {
		t.Fatalf("a session on the screen before anyone logged in (%v)", err)
	}
	login := func(n int) {
		t.Helper()
		if err := vm.TypeString(ctx, "genai\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the password prompt turns the echo off first
		if err := vm.TypeString(ctx, "genai-live\n"); err != nil {
			t.Fatal(err)
		}
		if err := vm.Expect("console login user=genai", 2*time.Minute); err != nil {
			t.Fatalf("login %d on tty1: %v\n%s", n, err, vm.Console())
		}
		c, stop := context.WithTimeout(ctx, 3*time.Minute)
		defer stop()
		img, err := screen.WaitUntil(c, vm.Screen, time.Second, look.BarDrawn)
		save(fmt.Sprintf("%d-session-after-login-%d", 2*n, n), img)
		if err != nil {
			t.Fatalf("no session after login %d: %v", n, err)
		}
		t.Logf("session %d up at %s from QEMU start", n, vm.Elapsed().Round(100*time.Millisecond))
	}
	const swaymsg = "swaymsg -s /run/user/1000/sway-ipc.sock "
	login(1)
	// sway runs as genai with genai's groups (video, input, render, consciousness), not root's
	st := run(`for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = sway ] && grep -E '^(Uid|Groups):' $p/status; done; grep ^consciousness: /etc/group`)
	st = strings.ReplaceAll(st, "\r", "")
	gid := regexp.MustCompile(`(?m)^consciousness:x:([0-9]+):`).FindStringSubmatch(st)
	if !regexp.MustCompile(`(?m)^Uid:\s+1000\s`).MatchString(st) || gid == nil ||
		!regexp.MustCompile(`(?m)^Groups:.*\b`+gid[1]+`\b`).MatchString(st) {
		t.Errorf("sway's user and groups:\n%s\nwant uid 1000 (genai) with the consciousness group", st)
	}
	// Log out: sway ends, the login ends, and the console asks again.
	run(swaymsg + "exit")
	if err := vm.Expect("session ended user=genai", time.Minute); err != nil {
		t.Fatalf("log out: %v\n%s", err, vm.Console())
	}
	c, stop := context.WithTimeout(ctx, time.Minute)
	img, err = screen.WaitUntil(c, vm.Screen, time.Second, func(img image.Image) bool { return !look.BarDrawn(img) })
	stop()
	save("3-logged-out", img)
	if err != nil {
		t.Fatalf("the session still on the screen after log out: %v", err)
	}
	login(2)
	// Reboot from the session: sway runs the live user's consciousness-manager.
	if err := vm.Send(swaymsg + "exec 'consciousness-manager reboot'\r"); err != nil {
		t.Fatal(err)
	}
	if err := vm.Wait(); err != nil { // QEMU's -no-reboot: it exits when the guest reboots
		t.Fatalf("reboot from the session: %v\n%s", err, vm.Console())
	}
	inOrder(t, string(vm.Console()), `going down action=reboot`, `services stopped`, `file systems synced, rebooting`)
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
