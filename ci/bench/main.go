// Command bench measures genai-build the way README.md reports it: build times (cold, warm, after
// one overlay file changed), image sizes and boot times in every firmware and medium, both as wall
// time and as the guest's own clock. Run it with `make bench`; it prints a Markdown table.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

func main() {
	edition := flag.String("edition", "server", "edition to measure")
	boots := flag.Int("boots", 1, "boots per mode")
	skipCold := flag.Bool("skip-cold", false, "skip the cold build (it rebuilds u-root with an empty Go cache: minutes)")
	squashfsDir := flag.String("squashfs-dir", "", "also compare the squashfs writer with mksquashfs on this host directory")
	squashfsOnly := flag.Bool("squashfs-only", false, "only compare the squashfs writer with mksquashfs (package trees from the user's cache)")
	memImage := flag.String("memory", "", "only measure the least memory IMAGE boots with (bisects QEMU's -m), and exit")
	remoteOnly := flag.Bool("remote-only", false, "only the shared cache's rows: builds on an empty local cache with a registry on 127.0.0.1 (docker-registry)")
	imagesOnly := flag.Bool("images-only", false, "only build times, sizes and boots (no init comparison, package times or 100-unit images): for editions whose root is on the medium")
	flag.Parse()
	var err error
	switch {
	case *memImage != "":
		err = runMemory(*memImage)
	case *remoteOnly:
		err = runRemoteOnly(*edition)
	case *squashfsOnly:
		err = runSquashfs(*edition, *squashfsDir)
	case *edition == "embedded":
		err = runEmbedded(*edition, *boots)
	default:
		err = run(*edition, *boots, *skipCold, *imagesOnly, *squashfsDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct{ what, value, how string }

func run(edition string, boots int, skipCold, imagesOnly bool, squashfsDir string) error {
	root, work, err := workspace()
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := buildBinary(work)
	if err != nil {
		return err
	}
	userCache := userCacheDir()
	out := filepath.Join(work, "images")
	cacheDir := filepath.Join(work, "cache")
	env := append(os.Environ(), "GENAI_BUILD_CACHE="+cacheDir, "SOURCE_DATE_EPOCH=1764000000")
	// An edition whose output is signed (enterprise) is signed with a key set made here, and booted
	// only as it promises: under Secure Boot with that set enrolled.
	signed := edition == "enterprise"
	var common []string
	var vars string
	if signed {
		keys := filepath.Join(work, "keys")
		if b, err := exec.Command(bin, "keys", "init", keys, "--org", "GenAI Bench").CombinedOutput(); err != nil {
			return fmt.Errorf("keys init: %v\n%s", err, b)
		}
		common, vars = []string{"--keys", keys}, filepath.Join(keys, "OVMF_VARS_4M.enrolled.fd")
	}
	build := func(extra ...string) (time.Duration, error) {
		args := append([]string{"iso", "--quiet", "--edition", edition, "--out", out}, common...)
		cmd := exec.Command(bin, append(args, extra...)...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		start := time.Now()
		err := cmd.Run()
		if err != nil {
			return 0, fmt.Errorf("%v: %v\n%s", cmd.Args, err, stderr.String())
		}
		return time.Since(start), nil
	}
	var rows []row
	// The downloads are copied from the user's cache so the cold figure does not measure the network.
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	if err := exec.Command("cp", "-r", filepath.Join(userCache, "blobs"), cacheDir).Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: no downloads in", userCache, "- the cold build will download them")
	}
	if !skipCold {
		fmt.Fprintln(os.Stderr, "cold build (empty build cache and Go build cache)…")
		gocache := filepath.Join(work, "gocache")
		env = append(env, "GOCACHE="+gocache)
		d, err := build()
		if err != nil {
			return err
		}
		env = env[:len(env)-1]
		rows = append(rows, row{"cold build (empty cache, downloads present)", secs(d), "fresh GENAI_BUILD_CACHE and GOCACHE"})
	} else if _, err := build(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "warm builds…")
	var warm []time.Duration
	for i := 0; i < 3; i++ {
		d, err := build()
		if err != nil {
			return err
		}
		warm = append(warm, d)
	}
	rows = append(rows, row{"warm rebuild, nothing changed", secs(median(warm)), "median of 3"})
	// One overlay file changed: only the system segment of the initramfs and the image are redone.
	stamp := filepath.Join(root, "overlays", edition, "etc", "bench-stamp")
	defer os.Remove(stamp)
	var changed []time.Duration
	for i := 0; i < 3; i++ {
		if err := os.WriteFile(stamp, []byte(strconv.Itoa(i)+time.Now().String()), 0o644); err != nil {
			return err
		}
		d, err := build()
		if err != nil {
			return err
		}
		changed = append(changed, d)
	}
	os.Remove(stamp)
	rows = append(rows, row{"rebuild after one overlay file changed", secs(median(changed)), "median of 3"})
	if !imagesOnly {
		remote, err := remoteRows(edition, bin, work)
		if err != nil {
			return fmt.Errorf("shared cache: %w", err)
		}
		rows = append(rows, remote...)
	}
	if _, err := build(); err != nil {
		return err
	}
	isos, _ := filepath.Glob(filepath.Join(out, "genai-os-"+edition+"-*.iso"))
	if len(isos) != 1 {
		return fmt.Errorf("expected one ISO in %s, found %v", out, isos)
	}
	image := isos[0]
	fi, err := os.Stat(image)
	if err != nil {
		return err
	}
	var m struct {
		Files []struct {
			Path string `json:"path"`
			Size int64  `json:"size"`
		} `json:"files"`
		Layers []struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		} `json:"layers"`
	}
	data, err := os.ReadFile(image + ".manifest.json")
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		return err
	}
	sizes := map[string]int64{}
	for _, f := range m.Files {
		sizes[f.Path] = f.Size
	}
	rows = append(rows, row{"ISO size", mb(fi.Size()), filepath.Base(image)})
	if signed {
		rows = append(rows, row{"UEFI system partition image", mb(sizes["/boot/efi.img"]), "the signed UKI: systemd-stub, kernel, early initramfs, command line"})
	} else {
		rows = append(rows,
			row{"kernel (vmlinuz)", mb(sizes["/boot/vmlinuz"]), "Debian's signed kernel"},
			row{"initramfs", mb(sizes["/boot/initrd.img"]), "zstd segments"},
			row{"UEFI system partition image", mb(sizes["/boot/efi.img"]), "shim + GRUB"},
		)
	}
	for _, l := range m.Layers {
		rows = append(rows, row{"root layer " + l.Name, mb(l.Size), "SquashFS on the medium (/live/" + l.Name + ".squashfs)"})
	}
	if edition == "desktop" {
		// one boot, as a user meets it, measured to the first frame of the session (each desktop
		// boot under TCG takes minutes: the boot matrix is the tests')
		d, err := desktopFigures(root, image)
		if err != nil {
			return fmt.Errorf("desktop: %w", err)
		}
		printRows(append(rows, d...))
		return nil
	}
	ready := regexp.MustCompile(`genai-os: ready .*boot_ms=([0-9]+)`)
	initMS := regexp.MustCompile(`init_ms=([0-9]+)`)
	firmwares := qemu.Firmwares
	if signed {
		firmwares = []qemu.Firmware{qemu.SecureBoot}
	}
	for _, fw := range firmwares {
		for _, md := range qemu.ISOMedias {
			var wall, guest, init []time.Duration
			for i := 0; i < boots; i++ {
				fmt.Fprintf(os.Stderr, "boot %s/%s…\n", fw, md)
				r, err := qemu.Boot(context.Background(), qemu.Config{Image: image, Firmware: fw, Media: md, Vars: vars},
					qemu.Watch{Ready: ready, Timeout: 4 * time.Minute})
				if err != nil {
					var fe *qemu.FailError
					if errors.As(err, &fe) {
						return fmt.Errorf("%s/%s: %s", fw, md, fe.Reason)
					}
					return err
				}
				wall = append(wall, r.ReadyAt)
				ms, _ := strconv.Atoi(ready.FindStringSubmatch(r.ReadyLine)[1])
				guest = append(guest, time.Duration(ms)*time.Millisecond)
				if sm := initMS.FindStringSubmatch(r.ReadyLine); sm != nil {
					n, _ := strconv.Atoi(sm[1])
					init = append(init, time.Duration(n)*time.Millisecond)
				}
			}
			v := fmt.Sprintf("%s wall, %s guest", secs(median(wall)), secs(median(guest)))
			if len(init) > 0 {
				v += fmt.Sprintf(", init→ready %s", secs(median(init)))
			}
			rows = append(rows, row{fmt.Sprintf("boot to ready line, %s %s", fw, md), v, "QEMU start → ready; guest: kernel start → ready"})
		}
	}
	if signed {
		v, err := verityCost(root, bin, env, common, vars, work, max(boots, 5))
		if err != nil {
			return fmt.Errorf("verity's cost: %w", err)
		}
		rows = append(rows, v...)
	}
	if imagesOnly {
		printRows(rows)
		return nil
	}
	cmp, err := initComparison(root, image, work, &cache.Cache{Dir: cacheDir})
	if err != nil {
		return fmt.Errorf("init comparison: %w", err)
	}
	rows = append(rows, cmp...)
	pk, err := packageTimes(root, edition, &cache.Cache{Dir: cacheDir}, work)
	if err != nil {
		return fmt.Errorf("package times: %w", err)
	}
	rows = append(rows, pk...)
	if squashfsDir != "" {
		sq, err := hostSquashfs(squashfsDir, work)
		if err != nil {
			return err
		}
		rows = append(rows, sq...)
	}
	var hundred []hundredImage
	for _, h := range []struct {
		what, exe string
		tiny      bool
	}{{"each running a 129-byte static true", "/usr/libexec/bench/true", true}, {"each running u-root's true (Go)", "/bin/true", false}} {
		overlay := filepath.Join(work, fmt.Sprintf("hundred-%d", len(hundred)))
		if err := hundredUnits(overlay, h.exe, h.tiny); err != nil {
			return err
		}
		out100 := filepath.Join(work, fmt.Sprintf("images-%d", len(hundred)))
		cmd := exec.Command(bin, "iso", "--quiet", "--edition", edition, "--out", out100, "--overlay", overlay)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %v\n%s", cmd.Args, err, b)
		}
		b, err := iso.ReadFile(filepath.Join(out100, filepath.Base(image)), "boot/initrd.img")
		if err != nil {
			return err
		}
		p := filepath.Join(work, fmt.Sprintf("initrd-hundred-%d.img", len(hundred)))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		hundred = append(hundred, hundredImage{h.what, p})
	}
	fmt.Fprintln(os.Stderr, "init figures: timeline, RSS, 100 services…")
	in, err := initFigures(filepath.Join(work, "vmlinuz"), filepath.Join(work, "initrd.img"), hundred)
	if err != nil {
		return fmt.Errorf("init figures: %w", err)
	}
	rows = append(rows, in...)
	printRows(rows)
	return nil
}

// buildBinary builds genai-build into work.
func buildBinary(work string) (string, error) {
	bin := filepath.Join(work, "genai-build")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/genai-build").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

func printRows(rows []row) {
	fmt.Printf("Measured on %s/%s, %d CPUs, %s, QEMU TCG unless KVM works (`make bench`):\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Println("| measure | value | how |")
	fmt.Println("| --- | --- | --- |")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.what, r.value, r.how)
	}
}

// workspace returns the checkout (the current folder) and a new temporary folder to work in.
func workspace() (root, work string, err error) {
	if root, err = os.Getwd(); err != nil {
		return "", "", err
	}
	work, err = os.MkdirTemp("", "genai-bench-*")
	return root, work, err
}

func userCacheDir() string {
	if c := os.Getenv("GENAI_BUILD_CACHE"); c != "" {
		return c
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "genai-build")
	}
	return filepath.Join(os.Getenv("HOME"), ".cache", "genai-build")
}

// runSquashfs is `bench -squashfs-only`: the package sets' unpacking and squashfs comparison
// from the user's cache, and a host directory's comparison if asked.
func runSquashfs(edition, dir string) error {
	root, work, err := workspace()
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rows, err := packageTimes(root, edition, &cache.Cache{Dir: userCacheDir()}, work)
	if err != nil {
		return fmt.Errorf("package times: %w", err)
	}
	if dir != "" {
		sq, err := hostSquashfs(dir, work)
		if err != nil {
			return err
		}
		rows = append(rows, sq...)
	}
	printRows(rows)
	return nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func mb(n int64) string {
	if n < 100e3 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// verityCost builds the enterprise edition a second time with root.verity off (an edition written
// beside it for the run) and boots the two images in turn, n times each, under Secure Boot from a
// CD: the median of the guest's kernel start → ready line with and without dm-verity.
func verityCost(root, bin string, env, common []string, vars, work string, n int) ([]row, error) {
	const name = "enterprise-bench-noverity"
	ed := filepath.Join(root, "editions", name+".yaml")
	// A copy of enterprise.yaml with verity off (an edition cannot unset its parent's
	// on_corruption, so the copy does not extend enterprise).
	src, err := os.ReadFile(filepath.Join(root, "editions", "enterprise.yaml"))
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(src), "\n") {
		switch strings.TrimSpace(l) {
		case "name: enterprise":
			l = "name: " + name
		case "verity: true":
			l = "  verity: false"
		case "on_corruption: eio":
			continue
		}
		lines = append(lines, l)
	}
	copied := strings.Join(lines, "\n")
	if !strings.Contains(copied, "name: "+name) || !strings.Contains(copied, "verity: false") {
		return nil, fmt.Errorf("editions/enterprise.yaml no longer has the lines this copy changes (name, root.verity)")
	}
	if err := os.WriteFile(ed, []byte("# written by ci/bench for one run (verity's cost); removed after it\n"+copied), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(ed)
	images := map[string]string{}
	for _, e := range []string{"enterprise", name} {
		out := filepath.Join(work, "verity-"+e)
		cmd := exec.Command(bin, append([]string{"iso", "--quiet", "--edition", e, "--out", out}, common...)...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%v: %v\n%s", cmd.Args, err, b)
		}
		isos, _ := filepath.Glob(filepath.Join(out, "genai-os-"+e+"-*.iso"))
		if len(isos) != 1 {
			return nil, fmt.Errorf("expected one ISO in %s, found %v", out, isos)
		}
		images[e] = isos[0]
	}
	ready := regexp.MustCompile(`genai-os: ready .*boot_ms=([0-9]+)`)
	guest, fromInit := map[string][]time.Duration{}, map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		for _, e := range []string{"enterprise", name} {
			fmt.Fprintf(os.Stderr, "verity's cost: boot %d/%d of %s…\n", i+1, n, e)
			r, err := qemu.Boot(context.Background(), qemu.Config{Image: images[e], Firmware: qemu.SecureBoot, Media: qemu.CD, Vars: vars},
				qemu.Watch{Ready: ready, Timeout: 4 * time.Minute})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e, err)
			}
			ms, _ := strconv.Atoi(ready.FindStringSubmatch(r.ReadyLine)[1])
			guest[e] = append(guest[e], time.Duration(ms)*time.Millisecond)
			// From the kernel's exec of /init: where verity works (the layers are read through
			// it from stage 1 on); before it the two boots differ only by the early initramfs's
			// four modules.
			if r.KernelInit > 0 {
				fromInit[e] = append(fromInit[e], time.Duration(ms)*time.Millisecond-r.KernelInit)
			}
		}
	}
	pct := func(a, b time.Duration) float64 { return 100 * (a - b).Seconds() / b.Seconds() }
	with, without := median(guest["enterprise"]), median(guest[name])
	initWith, initWithout := median(fromInit["enterprise"]), median(fromInit[name])
	return []row{
		{"kernel start → ready, with dm-verity", secs(with), fmt.Sprintf("median of %d, secure boot CD, alternating with the next row", n)},
		{"kernel start → ready, root.verity off", secs(without), fmt.Sprintf("median of %d; verity adds %+.1f %%", n, pct(with, without))},
		{"kernel's exec of /init → ready, with dm-verity", secs(initWith), fmt.Sprintf("median of %d, same boots", n)},
		{"kernel's exec of /init → ready, root.verity off", secs(initWithout), fmt.Sprintf("median of %d; verity adds %+.1f %%", n, pct(initWith, initWithout))},
	}, nil
}
