package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

// verdictLine is the init's ready or failed line.
var verdictLine = regexp.MustCompile(`genai-os: (ready|failed) .*`)

// memoryBench finds the least memory, in MiB, with which the image's kernel and initramfs reach
// the ready line, by bisection over direct kernel boots (the boot loader takes no memory that
// lasts), and compares it with the figure the build computed (build.json's memory.min_mb).
// It assumes that a boot that reaches ready with n MiB does so with more.
func memoryBench(image, work string, lo, hi int) ([]row, error) {
	kernel, initrd := filepath.Join(work, "vmlinuz"), filepath.Join(work, "initrd.img")
	for p, dst := range map[string]string{"boot/vmlinuz": kernel, "boot/initrd.img": initrd} {
		b, err := iso.ReadFile(image, p)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, err
		}
	}
	var m build.Manifest
	if b, err := iso.ReadFile(image, "genai/build.json"); err != nil {
		return nil, err
	} else if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.Memory == nil {
		return nil, errors.New(image + ": build.json has no memory figure (built before the build computed one)")
	}
	// boot says what a boot with mb MiB ends with: ready, failed (the init saw an incomplete root)
	// or none (a kernel panic, or nothing within the time).
	boot := func(mb int) string {
		r, err := qemu.Boot(context.Background(), qemu.Config{Kernel: kernel, Initrd: initrd, MemoryMB: mb, CPUs: 1,
			Append: "console=ttyS0,115200 consciousness.test=poweroff"}, qemu.Watch{Ready: verdictLine, Timeout: 3 * time.Minute})
		verdict := "none"
		if err == nil {
			verdict = verdictLine.FindStringSubmatch(r.ReadyLine)[1]
		}
		fmt.Fprintf(os.Stderr, "  -m %d: %s\n", mb, verdict)
		return verdict
	}
	fmt.Fprintf(os.Stderr, "memory: bisecting -m between %d and %d MiB (computed minimum %d MiB)…\n", lo, hi, m.Memory.MinMB)
	if boot(hi) != "ready" {
		return nil, fmt.Errorf("no ready line even with %d MiB", hi)
	}
	lowest := map[string]int{} // the least size seen to end each way
	for hi-lo > 2 {
		mid := (lo + hi) / 2
		v := boot(mid)
		if v == "ready" {
			hi = mid
		} else {
			lo = mid
			lowest[v] = mid
		}
	}
	how := fmt.Sprintf("direct kernel boots bisected to 2 MiB; %d MiB did not reach ready", lo)
	if f, ok := lowest["failed"]; ok {
		how += fmt.Sprintf(" (%d MiB: failed line)", f)
	}
	return []row{
		{"least memory to the ready line, measured", fmt.Sprintf("%d MiB", hi), how},
		{"least memory, computed by the build", fmt.Sprintf("%d MiB", m.Memory.MinMB),
			fmt.Sprintf("build.json memory.min_mb; %+d MiB from the measured", m.Memory.MinMB-hi)},
	}, nil
}

// runMemory is `go run ./ci/bench -memory IMAGE` (`make bench-memory`): the memory figures alone.
func runMemory(image string) error {
	work, err := os.MkdirTemp("", "genai-bench-memory-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rows, err := memoryBench(image, work, 96, 320)
	if err != nil {
		return err
	}
	fmt.Println("| measure | value | how |")
	fmt.Println("| --- | --- | --- |")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.what, r.value, r.how)
	}
	return nil
}
