// Command genai-update installs signed update bundles on an A/B device and shows its slots: the
// same tool as genai-tools' genai-update link, built alone for the embedded edition, whose image
// carries no other tool of the suite (a smaller slot, a smaller bundle).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/genai-os/genai-build/tools/update"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := update.Main(ctx, update.Default(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
