package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/gobuild"
	"github.com/genai-os/genai-build/internal/initrd"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

// initComparison boots the image's kernel directly (no firmware, no loader) twice: with the image's
// own initramfs, and with an initramfs of u-root's init and shell alone. For each it times, on the
// host's clock while the guest runs under the same accelerator, the span from the kernel's
// "Run /init" line to the first shell prompt, and for ours also to the ready line.
func initComparison(root, image, work string, c *cache.Cache) ([]row, error) {
	kernel, ours := filepath.Join(work, "vmlinuz"), filepath.Join(work, "initrd.img")
	for p, dst := range map[string]string{"boot/vmlinuz": kernel, "boot/initrd.img": ours} {
		b, err := iso.ReadFile(image, p)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, err
		}
	}
	fmt.Fprintln(os.Stderr, "building u-root's init and shell for comparison…")
	ur, err := gobuild.BuildURoot(context.Background(), gobuild.URootOptions{ModuleDir: root, GOARCH: "amd64", Cache: c,
		Commands: []string{"core/init", "core/gosh", "core/ls", "core/cat"}, Tags: []string{"goshliner"}})
	if err != nil {
		return nil, err
	}
	t := fstree.New()
	add := func(e fstree.Entry) {
		if err == nil {
			err = t.Add(e)
		}
	}
	add(fstree.Entry{Path: "bbin/bb", Kind: fstree.File, Mode: 0o755, Source: ur.Binary})
	for _, cmd := range ur.Commands {
		add(fstree.Entry{Path: "bbin/" + cmd, Kind: fstree.Symlink, Mode: 0o777, Target: "bb"})
	}
	add(fstree.Entry{Path: "bin/defaultsh", Kind: fstree.Symlink, Mode: 0o777, Target: "../bbin/gosh"})
	add(fstree.Entry{Path: "init", Kind: fstree.Symlink, Mode: 0o777, Target: "bbin/init"})
	if err != nil {
		return nil, err
	}
	theirs := filepath.Join(work, "u-root.cpio.zst")
	f, err := os.Create(theirs)
	if err != nil {
		return nil, err
	}
	if err := initrd.Write(f, t, initrd.Options{SourceDate: time.Unix(1764000000, 0), Compression: initrd.Zstd}); err != nil {
		return nil, err
	}
	f.Close()

	runInit := regexp.MustCompile(`Run /init as init process`)
	measure := func(initramfs, cmdline string, marks ...*regexp.Regexp) ([]time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		m, err := qemu.Start(ctx, qemu.Config{Kernel: kernel, Initrd: initramfs, Append: "console=ttyS0,115200 " + cmdline})
		if err != nil {
			return nil, err
		}
		defer m.Kill()
		if _, err := m.WaitFor(runInit); err != nil {
			return nil, err
		}
		start := time.Now()
		var out []time.Duration
		for _, re := range marks {
			if re.String() == `\$ ` {
				if err := m.Expect("$ ", 2*time.Minute); err != nil {
					return nil, err
				}
			} else if _, err := m.WaitFor(re); err != nil {
				return nil, err
			}
			out = append(out, time.Since(start))
		}
		return out, nil
	}
	prompt := regexp.MustCompile(`\$ `)
	fmt.Fprintln(os.Stderr, "direct kernel boot: ours, then u-root's init…")
	// consciousness.console=shell: a root shell on the console, as u-root's init gives.
	o, err := measure(ours, "consciousness.level=0.7 consciousness.console=shell", regexp.MustCompile(`genai-os: ready`), prompt)
	if err != nil {
		return nil, fmt.Errorf("ours: %w", err)
	}
	u, err := measure(theirs, "", prompt)
	if err != nil {
		return nil, fmt.Errorf("u-root: %w", err)
	}
	return []row{
		{"/init → ready line, consciousness-init", secs(o[0]), "direct kernel boot, host clock from the kernel's `Run /init` line"},
		{"/init → shell prompt, consciousness-init", secs(o[1]), "same boot"},
		{"/init → shell prompt, u-root's init (core/init + gosh)", secs(u[0]), "same kernel, u-root v0.16.0 busybox initramfs"},
	}, nil
}
