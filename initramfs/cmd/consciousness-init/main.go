// Command consciousness-init is the PID 1 of every GenAI OS image
// (/sbin/consciousness-init, with /init pointing at it).
//
// It mounts the API file systems, loads the modules the builder listed, prints
// one ready line on the console, then reaps children and waits for a signal
// to reboot or power off. It never exits: a failure is logged and the system
// keeps running or goes down cleanly.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/genai-os/genai-build/initramfs/boot"
)

func main() {
	start := time.Now()
	startedNs, _ := boot.SinceBoot() // CLOCK_BOOTTIME: the kernel's own clock since it started
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "consciousness-init: must run as PID 1")
		os.Exit(1)
	}
	// Under emulation the GC costs more than the few MB it would save at boot.
	debug.SetGCPercent(400)
	in := &initProc{start: start, startedNs: startedNs, root: "/", log: slog.New(slog.DiscardHandler)}
	for {
		func() {
			defer func() {
				if r := recover(); r != nil {
					in.log.Error("panic in PID 1, continuing", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				}
			}()
			in.run()
		}()
		// run only returns after a panic or a failed reboot(2): keep reaping.
		in.idle()
	}
}
