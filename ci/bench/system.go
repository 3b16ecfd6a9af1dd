package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debinstall"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/recipe"
)

// packageTimes resolves and unpacks each debian-packages recipe of the checkout from the cache
// alone: the Packages index and the .debs pinned by the lock, with the edition's drop_docs.
// Each unpacked set is also written as a squashfs image, by our writer and by mksquashfs.
func packageTimes(root, editionName string, c *cache.Cache, work string) ([]row, error) {
	lock, err := debian.ReadLock(filepath.Join(root, build.LockFile))
	if err != nil {
		return nil, err
	}
	ed, err := edition.Set{Dir: filepath.Join(root, "editions")}.Load(editionName)
	if err != nil {
		return nil, err
	}
	dropDocs := ed.Debian.DropDocs != nil && *ed.Debian.DropDocs
	docs := "docs kept"
	if dropDocs {
		docs = "docs dropped"
	}
	var rows []row
	for name, set := range lock.Sets {
		r, err := recipe.Load(filepath.Join(root, "recipes"), name)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		ix, err := (&debian.Fetcher{Cache: c, Offline: true}).FetchLockedIndex(context.Background(), lock)
		if err != nil {
			return nil, fmt.Errorf("the Packages index is not cached (run genai-build lock once): %w", err)
		}
		parsed := time.Since(start)
		start = time.Now()
		res, err := build.ResolveSet(ix, lock.Architecture, r)
		if err != nil {
			return nil, err
		}
		resolved := time.Since(start)
		var debs []debinstall.Deb
		var size int64
		for _, n := range set {
			lp, ok := lock.Package(n)
			if !ok {
				return nil, fmt.Errorf("%s: set %s names %s, which it does not pin", build.LockFile, name, n)
			}
			p, err := c.Blob(lp.SHA256)
			if err != nil {
				return nil, err
			}
			debs = append(debs, debinstall.Deb{Package: lp, Path: p})
			size += lp.Size
		}
		start = time.Now()
		t := fstree.New()
		if _, err := debinstall.Install(t, debs, debinstall.Options{DropDocs: dropDocs}); err != nil {
			return nil, err
		}
		unpacked := time.Since(start)
		rows = append(rows,
			row{fmt.Sprintf("resolve %s (%d packages)", name, len(res.Packages)), secs(resolved), fmt.Sprintf("after parsing the cached Packages index (%s)", secs(parsed))},
			row{fmt.Sprintf("unpack %s (%d .debs, %s compressed)", name, len(debs), mb(size)), secs(unpacked), fmt.Sprintf("%d tree entries, %s (edition %s)", t.Len(), docs, editionName)})
		for _, level := range squashfsLevels {
			sq, err := squashfsCompare(fmt.Sprintf("%s unpacked (%d entries)", name, t.Len()), t, "", false, work, level, 3)
			if err != nil {
				return nil, fmt.Errorf("squashfs of %s: %w", name, err)
			}
			rows = append(rows, sq...)
		}
	}
	return rows, nil
}

// bootFigures is what one boot of the init reports about itself.
type bootFigures struct {
	ExecMs   int64 `json:"exec_ms"`       // kernel start → its exec of /init
	MainMs   int64 `json:"init_start_ms"` // kernel start → the init's main
	ReadyMs  int64 `json:"ready_ms"`      // kernel start → ready line
	InitMs   int64 // init main → ready line, from the ready line
	GoMs     int64 // exec of /init → init main: the Go runtime's start
	Services string
	RSSKB    int64
}

// bootInit boots kernel and initramfs directly (no firmware or loader: the init and services are
// the image's own) on cpus vCPUs, with consciousness.test=shell: the ready line, then a root shell
// on the console. There it asks the init for its boot timeline (`consciousness-manager --json
// boot`) and, if rss, reads PID 1's resident memory once the background work is done.
func bootInit(kernel, initramfs string, cpus int, rss bool) (bootFigures, error) {
	var f bootFigures
	ready := regexp.MustCompile(`genai-os: ready .*services=([0-9]+)/([0-9]+) init_ms=([0-9]+)`)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	m, err := qemu.Start(ctx, qemu.Config{Kernel: kernel, Initrd: initramfs, CPUs: cpus,
		Append: "console=ttyS0,115200 quiet consciousness.test=shell"})
	if err != nil {
		return f, err
	}
	defer m.Kill()
	line, err := m.WaitFor(ready)
	if err != nil {
		return f, err
	}
	sm := ready.FindStringSubmatch(line)
	f.InitMs, _ = strconv.ParseInt(sm[3], 10, 64)
	f.Services = sm[1] + "/" + sm[2]
	if err := m.Expect("$ ", time.Minute); err != nil {
		return f, err
	}
	run := func(cmd string) (string, error) {
		from := m.Mark()
		m.Send(cmd + "\r")
		if err := m.Expect("\n$ ", time.Minute); err != nil {
			return "", err
		}
		return m.Since(from), nil
	}
	if rss {
		time.Sleep(10 * time.Second) // modules, DHCP, the heap given back
		out, err := run("grep VmRSS /proc/1/status")
		if err != nil {
			return f, err
		}
		if v := regexp.MustCompile(`VmRSS:\s+([0-9]+) kB`).FindStringSubmatch(out); v != nil {
			f.RSSKB, _ = strconv.ParseInt(v[1], 10, 64)
		}
	}
	out, err := run("consciousness-manager --json boot")
	if err != nil {
		return f, err
	}
	var resp struct {
		Boot bootFigures `json:"boot"`
	}
	if i, j := strings.Index(out, "{"), strings.LastIndex(out, "}"); i < 0 || j < i {
		return f, fmt.Errorf("consciousness-manager --json boot printed no JSON:\n%s", out)
	} else if err := json.Unmarshal([]byte(out[i:j+1]), &resp); err != nil {
		return f, fmt.Errorf("consciousness-manager --json boot: %w\n%s", err, out)
	}
	f.ExecMs, f.MainMs, f.ReadyMs = resp.Boot.ExecMs, resp.Boot.MainMs, resp.Boot.ReadyMs
	f.GoMs = f.MainMs - f.ExecMs
	return f, nil
}

// initFigures boots the image's kernel and initramfs on 2 and 1 vCPUs for the init's own figures,
// then initramfs images with 100 more trivial oneshot units, each running a true: u-root's (the
// image's /bin/true, a Go program) and a minimal static one (what the manager itself costs).
func initFigures(kernel, initramfs string, hundred []hundredImage) ([]row, error) {
	base, err := medianBoot(kernel, initramfs, 2, true)
	if err != nil {
		return nil, err
	}
	one, err := medianBoot(kernel, initramfs, 1, false)
	if err != nil {
		return nil, err
	}
	rows := []row{
		{"init main → ready line, edition's boot units " + base.Services, fmt.Sprintf("%d ms (1 vCPU: %d ms)", base.InitMs, one.InitMs),
			fmt.Sprintf("guest clock (init_ms), direct kernel boot, 2 vCPUs, median of %d; target ≤ 150 ms", initBoots)},
		{"kernel's exec of /init → init main (Go runtime start)", fmt.Sprintf("%d ms (1 vCPU: %d ms)", base.GoMs, one.GoMs),
			"`consciousness-manager boot`: the kernel's `Run /init` record in /dev/kmsg; medians"},
		{"kernel start → ready line", fmt.Sprintf("%d ms (1 vCPU: %d ms)", base.ReadyMs, one.ReadyMs), "same boots"},
		{"PID 1 resident memory after boot", fmt.Sprintf("%.1f MB", float64(base.RSSKB)/1024), "VmRSS of /proc/1/status, 10 s after ready; target ≤ 15 MB"},
	}
	for _, h := range hundred {
		f, err := bootInit(kernel, h.initramfs, 2, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.what, err)
		}
		rows = append(rows, row{"100 more trivial oneshot units (" + f.Services + "), " + h.what, fmt.Sprintf("%d ms", f.InitMs-base.InitMs),
			fmt.Sprintf("init main → ready %d ms vs %d ms without them, 2 vCPUs; target ≤ 1 s", f.InitMs, base.InitMs)})
	}
	return rows, nil
}

// initBoots is how many boots medianBoot takes the median of: one boot's figures vary by tens of
// ms under TCG.
const initBoots = 3

// medianBoot boots initBoots times and returns, field by field, the median figures (RSS from the
// first boot only, if rss).
func medianBoot(kernel, initramfs string, cpus int, rss bool) (bootFigures, error) {
	var fs []bootFigures
	for i := 0; i < initBoots; i++ {
		f, err := bootInit(kernel, initramfs, cpus, rss && i == 0)
		if err != nil {
			return f, err
		}
		fs = append(fs, f)
	}
	med := func(get func(bootFigures) int64) int64 {
		v := make([]int64, len(fs))
		for i, f := range fs {
			v[i] = get(f)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	out := fs[0]
	out.InitMs = med(func(f bootFigures) int64 { return f.InitMs })
	out.GoMs = med(func(f bootFigures) int64 { return f.GoMs })
	out.ReadyMs = med(func(f bootFigures) int64 { return f.ReadyMs })
	return out, nil
}

// hundredImage is an initramfs with 100 trivial units added.
type hundredImage struct{ what, initramfs string }

// hundredUnits writes an overlay with 100 trivial oneshot units running exe; if trueELF is set, it
// also writes there the minimal true of tinyTrue.
func hundredUnits(dir, exe string, trueELF bool) error {
	d := filepath.Join(dir, "etc", "consciousness", "services")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	if trueELF {
		p := filepath.Join(dir, strings.TrimPrefix(exe, "/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, tinyTrue(), 0o755); err != nil {
			return err
		}
	}
	for i := 0; i < 100; i++ {
		unit := fmt.Sprintf("[Unit]\nDescription=trivial %d\n\n[Service]\nType=oneshot\nExecStart=%s\n", i, exe)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("trivial-%03d.service", i)), []byte(unit), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// tinyTrue is a complete x86-64 Linux program that exits 0 (exit(2) with status 0): 120 bytes of
// ELF and program header, 9 bytes of code. A trivial service's program should cost nothing, so
// that 100 of them measure the service manager; every Go program, u-root's true among them, pays
// the Go runtime's start, 20-75 ms a run under TCG.
func tinyTrue() []byte {
	const base = 0x400000
	code := []byte{0x31, 0xff, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05} // xor edi,edi; mov eax,60; syscall
	const ehsize, phsize = 64, 56
	size := uint64(ehsize + phsize + len(code))
	b := make([]byte, 0, size)
	le := binary.LittleEndian
	b = append(b, 0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	b = le.AppendUint16(b, 2)    // ET_EXEC
	b = le.AppendUint16(b, 0x3e) // EM_X86_64
	b = le.AppendUint32(b, 1)
	b = le.AppendUint64(b, base+ehsize+phsize) // entry
	b = le.AppendUint64(b, ehsize)             // program headers
	b = le.AppendUint64(b, 0)                  // no section headers
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, ehsize)
	b = le.AppendUint16(b, phsize)
	b = le.AppendUint16(b, 1)
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = le.AppendUint32(b, 1) // PT_LOAD
	b = le.AppendUint32(b, 5) // R+X
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, base)
	b = le.AppendUint64(b, base)
	b = le.AppendUint64(b, size)
	b = le.AppendUint64(b, size)
	b = le.AppendUint64(b, 0x1000)
	return append(b, code...)
}
