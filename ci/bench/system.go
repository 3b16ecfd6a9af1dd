package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debinstall"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/recipe"
	"github.com/ulikunitz/xz"
)

// packageTimes resolves and unpacks each debian-packages recipe of the checkout from the cache
// alone: the Packages index and the .debs pinned by the lock.
func packageTimes(root string, c *cache.Cache) ([]row, error) {
	lock, err := debian.ReadLock(filepath.Join(root, build.LockFile))
	if err != nil {
		return nil, err
	}
	var rows []row
	for name, set := range lock.Sets {
		r, err := recipe.Load(filepath.Join(root, "recipes"), name)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		blob, err := c.Blob(lock.Index.SHA256)
		if err != nil {
			return nil, fmt.Errorf("the Packages index is not cached (run genai-build lock once): %w", err)
		}
		data, err := os.ReadFile(blob)
		if err != nil {
			return nil, err
		}
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		pkgs, err := debian.ParsePackages(xr)
		if err != nil {
			return nil, err
		}
		ix := debian.NewIndex(pkgs)
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
			for _, lp := range lock.Packages {
				if lp.Name == n {
					p, err := c.Blob(lp.SHA256)
					if err != nil {
						return nil, err
					}
					debs = append(debs, debinstall.Deb{Package: lp, Path: p})
					size += lp.Size
				}
			}
		}
		start = time.Now()
		t := fstree.New()
		if _, err := debinstall.Install(t, debs, debinstall.Options{DropDocs: true}); err != nil {
			return nil, err
		}
		unpacked := time.Since(start)
		rows = append(rows,
			row{fmt.Sprintf("resolve %s (%d packages)", name, len(res.Packages)), secs(resolved), fmt.Sprintf("after parsing the cached Packages index (%s)", secs(parsed))},
			row{fmt.Sprintf("unpack %s (%d .debs, %s compressed)", name, len(debs), mb(size)), secs(unpacked), fmt.Sprintf("%d tree entries, docs dropped", t.Len())})
	}
	return rows, nil
}

// initFigures boots the image once and reads, on its serial console, the init's resident memory
// after boot; then boots a variant with 100 more trivial units and compares the init's time to the
// ready line.
func initFigures(image, image100 string) ([]row, error) {
	ready := regexp.MustCompile(`genai-os: ready .*services=([0-9]+)/([0-9]+) init_ms=([0-9]+)`)
	boot := func(img string, rss bool) (initMS int, services string, rssKB int, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		m, err := qemu.Start(ctx, qemu.Config{Image: img, Firmware: qemu.BIOS, Media: qemu.CD})
		if err != nil {
			return 0, "", 0, err
		}
		defer m.Kill()
		if rss {
			// The debug entry logs root in on the serial console (the default one asks for a login).
			if err := m.Expect("boot: ", 2*time.Minute); err != nil {
				return 0, "", 0, err
			}
			m.Send("debug\r")
		}
		line, err := m.WaitFor(ready)
		if err != nil {
			return 0, "", 0, err
		}
		sm := ready.FindStringSubmatch(line)
		initMS, _ = strconv.Atoi(sm[3])
		services = sm[1] + "/" + sm[2]
		if rss {
			// Let the background work (modules, DHCP) finish, then ask the console shell.
			time.Sleep(10 * time.Second)
			if err := m.Expect("$ ", time.Minute); err != nil {
				return 0, "", 0, err
			}
			from := m.Mark()
			m.Send("grep VmRSS /proc/1/status\r")
			if err := m.Expect("\n$ ", time.Minute); err != nil {
				return 0, "", 0, err
			}
			if v := regexp.MustCompile(`VmRSS:\s+([0-9]+) kB`).FindStringSubmatch(m.Since(from)); v != nil {
				rssKB, _ = strconv.Atoi(v[1])
			}
		}
		return initMS, services, rssKB, nil
	}
	base, svc, _, err := boot(image, false)
	if err != nil {
		return nil, err
	}
	_, _, rss, err := boot(image, true)
	if err != nil {
		return nil, err
	}
	more, svc100, _, err := boot(image100, false)
	if err != nil {
		return nil, err
	}
	return []row{
		{"init start → ready line (edition's services " + svc + ")", fmt.Sprintf("%d ms", base), "guest clock (init_ms), BIOS CD"},
		{"PID 1 resident memory after boot", fmt.Sprintf("%.1f MB", float64(rss)/1024), "VmRSS of /proc/1/status, 10 s after ready"},
		{"100 more trivial services (" + svc100 + ")", fmt.Sprintf("%d ms", more-base), fmt.Sprintf("init→ready %d ms vs %d ms without them", more, base)},
	}, nil
}

// hundredUnits writes an overlay with 100 trivial oneshot units.
func hundredUnits(dir string) error {
	d := filepath.Join(dir, "etc", "consciousness", "services")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		unit := fmt.Sprintf("[Unit]\nDescription=trivial %d\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n", i)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("trivial-%03d.service", i)), []byte(unit), 0o644); err != nil {
			return err
		}
	}
	return nil
}
