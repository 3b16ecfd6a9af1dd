package main

import (
	"context"
	"io"

	"github.com/genai-os/genai-build/tools/update"
)

func init() {
	register("genai-update", func(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		return untilSignal(func(ctx context.Context) int {
			return update.Main(ctx, update.Default(), args, stdin, stdout, stderr)
		})
	})
}
