package main

import (
	"context"
	"io"

	"github.com/genai-os/genai-build/tools/auditd"
)

func init() {
	register("genai-auditd", func(args []string, _ io.Reader, stdout, stderr io.Writer) int {
		return untilSignal(func(ctx context.Context) int { return auditd.Main(ctx, args, stdout, stderr) })
	})
}
