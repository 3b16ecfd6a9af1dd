// Command genai-build builds GenAI OS images. See README.md, or run genai-build --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/genai-os/genai-build/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}
