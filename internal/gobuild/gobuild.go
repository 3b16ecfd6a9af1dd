// Package gobuild builds the Go programs that go into an image (our own PID 1 and its helpers, and
// u-root's commands as one busybox-style binary) for the target architecture, with the host's Go
// toolchain, the one tool the builder takes from the host. Every output is a stage in internal/cache
// keyed by the hash of all its inputs, so a build whose inputs did not change runs no compiler.
package gobuild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
)

// toolchainVars are the `go env` values that change the bytes of a binary beyond GOOS/GOARCH; their
// effective values go into every cache key.
var toolchainVars = []string{"GOVERSION", "GOROOT", "GOAMD64", "GOARM", "GOARM64", "GO386", "GORISCV64", "GOEXPERIMENT"}

// toolchain is what `go env` says about the compiler a build will use.
type toolchain struct {
	Version string            // e.g. "go1.26.8"
	Root    string            // GOROOT; not part of keys (-trimpath removes it from binaries)
	Knobs   map[string]string // toolchainVars, for the key
}

// keyParts lists the toolchain inputs of a cache key in a fixed order.
func (t *toolchain) keyParts() []string {
	var parts []string
	for _, v := range toolchainVars {
		if v == "GOROOT" {
			continue
		}
		parts = append(parts, v+"="+t.Knobs[v])
	}
	return parts
}

// goEnv runs `go env -json` in dir with env and returns the toolchain it describes.
func goEnv(ctx context.Context, dir string, env []string) (*toolchain, error) {
	out, err := runGo(ctx, dir, env, append([]string{"env", "-json"}, toolchainVars...)...)
	if err != nil {
		return nil, err
	}
	knobs := map[string]string{}
	if err := json.Unmarshal(out, &knobs); err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	if knobs["GOVERSION"] == "" || knobs["GOROOT"] == "" {
		return nil, fmt.Errorf("go env: no GOVERSION or GOROOT in %s", out)
	}
	return &toolchain{Version: knobs["GOVERSION"], Root: knobs["GOROOT"], Knobs: knobs}, nil
}

// targetEnv is the process environment with the target set, cgo off, and the variables that could
// change what `go` does behind our back (GOFLAGS, a go.work) neutralised.
func targetEnv(goarch string, extra ...string) []string {
	drop := map[string]bool{"GOOS": true, "GOARCH": true, "CGO_ENABLED": true, "GOFLAGS": true, "GOWORK": true, "GO111MODULE": true}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			env = append(env, kv)
		}
	}
	env = append(env, "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	return append(env, extra...)
}

// runGo runs the go command in dir and returns its standard output; a failure carries its stderr.
func runGo(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	return runGoBin(ctx, "go", dir, env, args...)
}

// runGoBin is runGo with a given go binary (a toolchain's $GOROOT/bin/go).
func runGoBin(ctx context.Context, gobin, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// validGOARCH rejects an empty GOARCH, which would silently mean the host's.
func validGOARCH(goarch string) error {
	if goarch == "" {
		return fmt.Errorf("no GOARCH given")
	}
	if strings.ContainsAny(goarch, " =/") {
		return fmt.Errorf("invalid GOARCH %q", goarch)
	}
	return nil
}
