// Command consciousness-init is the PID 1 of every GenAI OS image
// (/sbin/consciousness-init, with /init pointing at it).
//
// It mounts the API file systems, starts the services, prints one ready line on
// the console, loads the modules the hardware needs, then reaps children and
// waits for a signal to reboot or power off. It never exits: a failure is
// logged and the system keeps running or goes down cleanly.
//
// The same binary holds the init's companion commands, chosen by the name it
// is run as (busybox-style): consciousness-manager and ssh-hostkey. One Go
// runtime serves all three: the image carries it once, and under software
// emulation, where translating a new binary's code costs more than running it,
// a companion started at boot runs code the init has already warmed (about
// 0.1 s less per first exec under QEMU's TCG; see README.md).
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/boot"
	"github.com/genai-os/genai-build/initramfs/hostkey"
	"github.com/genai-os/genai-build/initramfs/manager"
	"github.com/genai-os/genai-build/initramfs/svc"
)

// applets are the commands this binary also is, by the base name it is run as.
var applets = map[string]func(args []string) error{
	"consciousness-manager": func(args []string) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return manager.Run(ctx, os.Stdout, args)
	},
	"ssh-hostkey": func(args []string) error { return hostkey.Run(args, os.Stdout, rand.Reader) },
	// Run by the init itself (svc.Config.SocketExec) to start a socket-activated service.
	svc.SocketExecName: svc.ExecListen,
}

func main() {
	start := time.Now()
	startedNs, _ := boot.SinceBoot() // CLOCK_BOOTTIME: the kernel's own clock since it started
	name := filepath.Base(os.Args[0])
	if applet, ok := applets[name]; ok {
		if err := applet(os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "consciousness-init: must run as PID 1 (or be run as consciousness-manager or ssh-hostkey)")
		os.Exit(1)
	}
	// Under emulation the GC costs more than the few MB it would save at boot.
	debug.SetGCPercent(400)
	// Until boot has read the configuration, log on the console at the default level, so that a
	// panic before then is seen.
	in := &initProc{start: start, startedNs: startedNs, root: "/", log: earlyLogger(), stage2: os.Getenv(stageEnv) == "2"}
	in.medium = os.Getenv(mediumEnv)
	os.Unsetenv(stageEnv) // not for the services
	os.Unsetenv(mediumEnv)
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
