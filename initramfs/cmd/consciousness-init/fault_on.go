//go:build faultinject

package main

import (
	"log/slog"
	"os"
	"strings"
)

// faultParam names the unit whose supervisor goroutine panics as it begins:
// consciousness.fault=supervisor:<unit>. Only this test build reads it (the boot tests build
// the init with -tags faultinject and lay it over the image's initramfs); a normal image warns
// that the parameter is unknown.
const faultParam = "consciousness.fault=supervisor:"

func faultHook(log *slog.Logger) func(unit string) {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return nil
	}
	var target string
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, faultParam); ok {
			target = v
		}
	}
	if target == "" {
		return nil
	}
	log.Warn("fault injection build: the supervisor of a unit will panic", "unit", target)
	return func(unit string) {
		if unit == target {
			panic("injected fault (consciousness.fault) in the supervisor of " + unit)
		}
	}
}
