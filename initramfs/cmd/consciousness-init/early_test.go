package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/conslog"
)

// TestConsoleWriter: with stdout closed (no /dev/console in the initramfs), a line still reaches
// the first console node that opens.
func TestConsoleWriter(t *testing.T) {
	dir := t.TempDir()
	closed, err := os.CreateTemp(dir, "stdout")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	console := filepath.Join(dir, "console")
	if err := os.WriteFile(console, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w := consoleWriter{primary: closed, paths: []string{filepath.Join(dir, "missing"), console}}
	log := slog.New(conslog.New(w, "consciousness-init", slog.LevelInfo))
	log.Error("panic in PID 1, continuing", "panic", "early")
	b, _ := os.ReadFile(console)
	if !strings.Contains(string(b), "consciousness-init: ERROR panic in PID 1, continuing panic=early") {
		t.Errorf("console got %q", b)
	}
	if _, err := (consoleWriter{primary: closed}).Write([]byte("x\n")); !errors.Is(err, errNoConsole) {
		t.Errorf("no console at all: %v", err)
	}
}

// TestEarlyLoggerNotDiscarded: the logger PID 1 starts with writes somewhere (it once was
// slog.DiscardHandler, and an early panic vanished).
func TestEarlyLoggerNotDiscarded(t *testing.T) {
	if !earlyLogger().Enabled(t.Context(), slog.LevelError) {
		t.Error("the early logger drops errors")
	}
}
