package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/genai-os/genai-build/tools/update"
)

func init() {
	register("genai-update", func(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return update.Main(ctx, update.Default(), args, stdin, stdout, stderr)
	})
}
