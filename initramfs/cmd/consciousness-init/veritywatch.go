package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/genai-os/genai-build/initramfs/dm"
	"github.com/genai-os/genai-build/initramfs/live"
)

// veritySysfs is where the kernel names device-mapper devices (/sys/block/dm-N/dm/name); the
// layers stage 1 mapped are called live-<layer>.
const veritySysfs = "sys/block/dm-*/dm/name"

// verityInUse says whether stage 1 mounted the root's layers through dm-verity.
func (in *initProc) verityInUse() bool {
	names, _ := filepath.Glob(in.path(veritySysfs))
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil && strings.HasPrefix(string(b), "live-") {
			return true
		}
	}
	return false
}

// watchVerity follows the kernel's log and reports every block dm-verity refused, naming the
// root's layer it belongs to (the loop device's backing file), on every console and in the
// init's log:
//
//	genai-os: verity error layer=system dev=7:3 block=710 detail="..."
//
// The read itself has already failed with EIO (on_corruption eio) in the program that made it.
func (in *initProc) watchVerity() {
	if !in.verityInUse() {
		return
	}
	// A raw blocking fd: each read(2) returns one record, and waits for the next one.
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		in.log.Warn("verity errors are not watched", "err", err)
		return
	}
	f := os.NewFile(uintptr(fd), "/dev/kmsg")
	defer f.Close()
	r := bufio.NewReaderSize(f, 8192)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == syscall.EPIPE || strings.Contains(err.Error(), "broken pipe") {
				continue // records were overwritten since the last read; reading goes on
			}
			in.log.Warn("verity errors are no longer watched", "err", err)
			return
		}
		c, ok := dm.ParseCorruption(line)
		if !ok {
			continue
		}
		layer := in.layerOf(c.Dev)
		in.log.Error("verity: a block of the root does not match its hash", "layer", layer, "dev", c.Dev, "kind", c.Kind, "block", c.Block)
		in.everyConsole(fmt.Sprintf("genai-os: verity error layer=%s dev=%s block=%d detail=%q", layer, c.Dev, c.Block,
			fmt.Sprintf("a %s block of the root on the medium does not match its signed hash: its reads fail (I/O error)", c.Kind)))
	}
}

// layerOf names the layer whose loop device is dev (major:minor), from its backing file.
func (in *initProc) layerOf(dev string) string {
	b, err := os.ReadFile(in.path(filepath.Join("sys/dev/block", dev, "loop/backing_file")))
	if err != nil {
		return "unknown"
	}
	return strings.TrimSuffix(filepath.Base(strings.TrimSpace(string(b))), live.LayerSuffix)
}
