// Command genai-tools is GenAI OS's native suite in one binary, busybox-style: the name it runs as
// (a link: /usr/bin/genai-assistant, /usr/bin/consciousness-debugger, ...) or its first argument
// picks the tool. One Go runtime for the suite keeps the image lean; the init stays its own binary
// (PID 1's code is only the init's). Each tool registers itself from its own file here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// tool is one command of the suite: it runs with the arguments after its name and returns the
// exit status.
type tool func(args []string, stdin io.Reader, stdout, stderr io.Writer) int

var tools = map[string]tool{}

// register adds a tool under its command name; every tool's file calls it from init.
func register(name string, t tool) { tools[name] = t }

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := filepath.Base(argv[0])
	args := argv[1:]
	if _, ok := tools[name]; !ok && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	t, ok := tools[name]
	if !ok {
		var names []string
		for n := range tools {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(stderr, "genai-tools: no tool %q; run one of: %s (as a link of that name, or genai-tools NAME ARGS)\n", name, strings.Join(names, ", "))
		return 2
	}
	return t(args, stdin, stdout, stderr)
}

// untilSignal runs a tool with a context that SIGINT or SIGTERM (the init stopping a unit) ends.
func untilSignal(f func(ctx context.Context) int) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return f(ctx)
}
