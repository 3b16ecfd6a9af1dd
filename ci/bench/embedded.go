package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/release"
)

// The bench edition of the A/B scenarios: the embedded edition with a root shell on the console
// (so the bench can type genai-update), in three versions of one edition (a device takes only its
// own edition's bundles): the first, the next, and one whose kernel panics. Written into editions/
// for the run (ignored by git: editions/*-bench-*.yaml) and removed after.
const embBench = "embedded-bench-ab"

var embBenchVersions = []struct{ name, yaml string }{
	{"v1", "boot:\n  cmdline: [init.debug]\n"},
	{"v2", "version: 0.2.0\nboot:\n  cmdline: [init.debug]\n"},
	{"v4", "version: 0.4.0\nboot:\n  cmdline: [init.debug, rdinit=/genai-missing]\n"},
}

// runEmbedded measures an edition whose output is the A/B disk image: build times, the sizes of
// the image, its .zst and its update bundle, boots from each bus, and on a device made from the
// bench edition: installing a bundle over HTTP, and the way back from an update whose kernel
// panics.
func runEmbedded(edition string, boots int) error {
	root, work, err := workspace()
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := buildBinary(work)
	if err != nil {
		return err
	}
	keys := filepath.Join(work, "update-keys")
	if b, err := exec.Command(bin, "update-key", "init", keys).CombinedOutput(); err != nil {
		return fmt.Errorf("update-key init: %v\n%s", err, b)
	}
	out := filepath.Join(work, "images")
	env := append(os.Environ(), "SOURCE_DATE_EPOCH=1764000000")
	build := func(ed string, extra ...string) (time.Duration, error) {
		cmd := exec.Command(bin, append([]string{"image", "--quiet", "--edition", ed, "--out", out, "--update-key", keys}, extra...)...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%v: %v\n%s", cmd.Args, err, stderr.String())
		}
		return time.Since(start), nil
	}
	var rows []row
	if _, err := build(edition); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "warm builds…")
	var warm, changed []time.Duration
	for i := 0; i < 3; i++ {
		d, err := build(edition)
		if err != nil {
			return err
		}
		warm = append(warm, d)
	}
	rows = append(rows, row{"warm rebuild, nothing changed", secs(median(warm)), "median of 3"})
	stamp := filepath.Join(root, "overlays", edition, "etc", "bench-stamp")
	defer os.Remove(stamp)
	for i := 0; i < 3; i++ {
		if err := os.WriteFile(stamp, []byte(strconv.Itoa(i)+time.Now().String()), 0o644); err != nil {
			return err
		}
		d, err := build(edition)
		if err != nil {
			return err
		}
		changed = append(changed, d)
	}
	os.Remove(stamp)
	rows = append(rows, row{"rebuild after one overlay file changed", secs(median(changed)), "median of 3 (slot, disk image, .zst and bundle rewritten)"})
	if _, err := build(edition); err != nil {
		return err
	}
	file := func(ed, suffix string) (string, int64, error) {
		m, _ := filepath.Glob(filepath.Join(out, "genai-os-"+ed+"-*-amd64"+suffix))
		if len(m) != 1 {
			return "", 0, fmt.Errorf("expected one *%s of %s in %s, found %v", suffix, ed, out, m)
		}
		fi, err := os.Stat(m[0])
		if err != nil {
			return "", 0, err
		}
		return m[0], fi.Size(), nil
	}
	img, imgSize, err := file(edition, ".img")
	if err != nil {
		return err
	}
	_, zstSize, err := file(edition, ".img.zst")
	if err != nil {
		return err
	}
	_, bundleSize, err := file(edition, ".bundle")
	if err != nil {
		return err
	}
	rows = append(rows,
		row{"raw disk image", mb(imgSize), filepath.Base(img) + " (target ≤ 128 MB)"},
		row{"compressed download (.img.zst)", mb(zstSize), "zstd (target ≤ 40 MB)"},
		row{"update bundle", mb(bundleSize), "one slot: kernel, initramfs, layers (target ≤ 30 MB)"})
	ready := regexp.MustCompile(`genai-os: ready .*boot_ms=([0-9]+)`)
	bootRows, err := release.BootRows(edition, []string{"disk-image"})
	if err != nil {
		return err
	}
	for _, br := range bootRows {
		var wall, guest []time.Duration
		for i := 0; i < boots; i++ {
			fmt.Fprintf(os.Stderr, "boot %s/%s…\n", br.Firmware, br.Media)
			r, err := qemu.Boot(context.Background(), qemu.Config{Image: img, Firmware: br.Firmware, Media: br.Media, CPUs: 1},
				qemu.Watch{Ready: ready, Timeout: 4 * time.Minute})
			if err != nil {
				return fmt.Errorf("%s: %w", br.Name(), err)
			}
			ms, _ := strconv.Atoi(ready.FindStringSubmatch(r.ReadyLine)[1])
			wall, guest = append(wall, r.ReadyAt), append(guest, time.Duration(ms)*time.Millisecond)
		}
		rows = append(rows, row{fmt.Sprintf("boot to ready line, %s %s", br.Firmware, br.Media),
			fmt.Sprintf("%s wall, %s guest", secs(median(wall)), secs(median(guest))), "QEMU start → ready; guest: kernel start → ready"})
	}
	upd, err := updateFigures(root, work, build)
	if err != nil {
		return fmt.Errorf("update figures: %w", err)
	}
	printRows(append(rows, upd...))
	return nil
}

// updateFigures boots the bench edition's image as a device, installs the next version's bundle
// from an HTTP server on the host, boots into it, then installs a version whose kernel panics and
// counts the boots until the device is back on the good slot.
func updateFigures(root, work string, build func(string, ...string) (time.Duration, error)) ([]row, error) {
	served := filepath.Join(work, "served")
	if err := os.MkdirAll(served, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(root, "editions", embBench+".yaml")
	defer os.Remove(p)
	var img string
	for _, v := range embBenchVersions {
		y := "name: " + embBench + "\nextends: embedded\ndescription: bench\nrecipes: [u-root-core]\n" + v.yaml
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "building %s %s…\n", embBench, v.name)
		if _, err := build(embBench); err != nil {
			return nil, err
		}
		for _, suffix := range []string{".bundle", ".img"} {
			f, err := newest(work, "genai-os-"+embBench+"-*-amd64"+suffix)
			if err != nil {
				return nil, err
			}
			dst := filepath.Join(served, v.name+suffix)
			if err := os.Rename(f, dst); err != nil {
				return nil, err
			}
			if suffix == ".img" && v.name == "v1" {
				img = dst
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(served))}
	go srv.Serve(l)
	defer srv.Close()
	url := fmt.Sprintf("http://10.0.2.2:%d/", l.Addr().(*net.TCPAddr).Port)
	dev := filepath.Join(work, "device.img")
	if b, err := exec.Command("cp", "--sparse=always", img, dev).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cp: %v %s", err, b)
	}
	if err := os.Truncate(dev, 1<<30); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	m, err := qemu.Start(ctx, qemu.Config{Image: dev, Firmware: qemu.SecureBoot, Media: qemu.Virtio, Writable: true, Reboot: true,
		PanicOK: true, Net: true, CPUs: 1, StateDir: work, QMP: filepath.Join(work, "qmp.sock")})
	if err != nil {
		return nil, err
	}
	defer m.Kill()
	wait := func(re string) (string, error) {
		line, err := m.WaitWithin(regexp.MustCompile(re), 5*time.Minute)
		if err != nil {
			return "", fmt.Errorf("waiting for %q: %w\n%s", re, err, tailOf(m.Console(), 3000))
		}
		return line, nil
	}
	if _, err := wait(`genai-os: ready `); err != nil {
		return nil, err
	}
	if err := m.Expect("\n$ ", time.Minute); err != nil {
		return nil, err
	}
	// The guest's clock around the install: the kernel's uptime before and after.
	uptime := regexp.MustCompile(`up=([0-9.]+)`)
	from := m.Mark()
	if err := m.Send("echo up=$(cat /proc/uptime); genai-update install " + url + "v2.bundle; echo up=$(cat /proc/uptime)\r"); err != nil {
		return nil, err
	}
	if err := m.Expect("\n$ ", 5*time.Minute); err != nil {
		return nil, err
	}
	said := m.Since(from)
	ups := uptime.FindAllStringSubmatch(said, -1)
	if len(ups) < 2 || !strings.Contains(said, "genai-update: installed") {
		return nil, fmt.Errorf("install over HTTP:\n%s", said)
	}
	t0, _ := strconv.ParseFloat(ups[len(ups)-2][1], 64)
	t1, _ := strconv.ParseFloat(ups[len(ups)-1][1], 64)
	fi, err := os.Stat(filepath.Join(served, "v2.bundle"))
	if err != nil {
		return nil, err
	}
	bundleSize := fi.Size()
	rows := []row{{"install of a bundle over HTTP", fmt.Sprintf("%.1f s guest", t1-t0),
		fmt.Sprintf("%s streamed, each chunk verified before it is written, read back (target ≤ 30 s)", mb(bundleSize))}}
	// into v2 (trial, commit), then the panicking v4 and the way back
	// Ctrl-Alt-Del: the init stops the units and reboots
	if err := m.SendKeys(ctx, "ctrl", "alt", "delete"); err != nil {
		return nil, err
	}
	if _, err := wait(`genai-os: update committed slot=B`); err != nil {
		return nil, err
	}
	if err := m.Expect("\n$ ", 2*time.Minute); err != nil {
		return nil, err
	}
	if err := m.Send("genai-update install --reboot " + url + "v4.bundle\r"); err != nil {
		return nil, err
	}
	if _, err := wait(`genai-update: installed slot=A`); err != nil {
		return nil, err
	}
	start := time.Now()
	grub := regexp.MustCompile(`genai-grub: slot=(\w) trial=(\w+) left=(\d)`)
	tries := 0
	for {
		line, err := wait(grub.String())
		if err != nil {
			return nil, err
		}
		sm := grub.FindStringSubmatch(line)
		if sm[2] == "none" {
			if sm[1] != "B" {
				return nil, fmt.Errorf("after the tries GRUB booted %s, want B", sm[1])
			}
			break
		}
		tries++
	}
	if _, err := wait(`genai-os: update rolled back slot=A version=0.4.0 reason=tries`); err != nil {
		return nil, err
	}
	rows = append(rows, row{"failed trial (kernel panic) → back on the good slot", fmt.Sprintf("%d tries, %s wall", tries, secs(time.Since(start))),
		"no human action: panic=10 reboots, GRUB counts down disk.tries (3)"})
	return rows, nil
}

func tailOf(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// newest is the one file under dir/images matching pattern (a build just wrote it).
func newest(dir, pattern string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(dir, "images", pattern))
	if len(m) != 1 {
		return "", fmt.Errorf("expected one %s in %s/images, found %v", pattern, dir, m)
	}
	return m[0], nil
}
