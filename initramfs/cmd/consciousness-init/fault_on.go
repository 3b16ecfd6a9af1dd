//go:build faultinject

package main

import (
	"log/slog"
	"os"
	"strings"
)

// Fault injection, read from the kernel command line by this test build only (the boot tests
// build the init with -tags faultinject and lay it over the image's initramfs; a normal image
// has no such code and warns that the parameter is unknown):
//
//	consciousness.fault=supervisor:<unit>  the unit's supervisor goroutine panics as it begins
//	consciousness.fault=early              boot panics before the logger is set up
const faultParam = "consciousness.fault="

func faultValue() string {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return ""
	}
	v := ""
	for _, f := range strings.Fields(string(b)) {
		if s, ok := strings.CutPrefix(f, faultParam); ok {
			v = s
		}
	}
	return v
}

func faultHook(log *slog.Logger) func(unit string) {
	target, ok := strings.CutPrefix(faultValue(), "supervisor:")
	if !ok || target == "" {
		return nil
	}
	log.Warn("fault injection build: the supervisor of a unit will panic", "unit", target)
	return func(unit string) {
		if unit == target {
			panic("injected fault (consciousness.fault) in the supervisor of " + unit)
		}
	}
}

func earlyFault() {
	if faultValue() == "early" {
		panic("injected early fault (consciousness.fault=early), before the logger")
	}
}
