package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/genai-os/genai-build/tools/auditd"
)

func init() {
	register("genai-auditd", func(args []string, _ io.Reader, stdout, stderr io.Writer) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return auditd.Main(ctx, args, stdout, stderr)
	})
}
