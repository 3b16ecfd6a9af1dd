package boot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MemoryMB returns the machine's memory in MiB: the "System RAM" ranges of the firmware's memory
// map (/sys/firmware/memmap, Documentation/ABI/testing/sysfs-firmware-memmap) with the first MiB
// counted whole (the PC's legacy area, whose holes are not memory missing), rounded up, which
// comes to what the machine was given (QEMU's -m) but for the firmware's own top pages; else the
// kernel's MemTotal, which is less by what the kernel itself took.
func MemoryMB(root string) (int, error) {
	dirs, _ := filepath.Glob(filepath.Join(root, "sys/firmware/memmap/*"))
	var total uint64
	for _, d := range dirs {
		typ, err1 := os.ReadFile(filepath.Join(d, "type"))
		start, err2 := readHex(filepath.Join(d, "start"))
		end, err3 := readHex(filepath.Join(d, "end"))
		if err1 != nil || err2 != nil || err3 != nil || strings.TrimSpace(string(typ)) != "System RAM" || end < start {
			continue
		}
		if end < 1<<20 {
			continue // in the legacy area
		}
		total += end - max(start, 1<<20) + 1
	}
	if total > 0 {
		total += 1 << 20
		return int((total + 1<<20 - 1) >> 20), nil
	}
	b, err := os.ReadFile(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return 0, err
	}
	return memTotalMB(b)
}

func readHex(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64)
}

// memTotalMB reads "MemTotal: <n> kB" from /proc/meminfo.
func memTotalMB(b []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("meminfo: %w", err)
			}
			return int((kb + 512) / 1024), nil
		}
	}
	return 0, errors.New("meminfo: no MemTotal")
}
