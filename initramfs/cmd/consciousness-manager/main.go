// Command consciousness-manager drives the init over its control socket:
// status, start, stop, restart, reload, logs, boot, level, poweroff, reboot.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "consciousness-manager:", err)
		os.Exit(1)
	}
}
