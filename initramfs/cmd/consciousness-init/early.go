package main

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/genai-os/genai-build/initramfs/conslog"
	"golang.org/x/sys/unix"
)

// consoleWriter is where PID 1 logs before boot has set up its logger (and what a panic before
// then is reported on). The kernel starts /init with stdin, stdout and stderr open on
// /dev/console when the initramfs has that node (init/main.c, console_on_rootfs); when writing
// there fails, /dev/console and then /dev/kmsg are opened by path, which works once /dev is
// mounted.
type consoleWriter struct {
	primary io.Writer
	paths   []string
}

var errNoConsole = errors.New("no console to write to")

func (w consoleWriter) Write(b []byte) (int, error) {
	if w.primary != nil {
		if n, err := w.primary.Write(b); err == nil {
			return n, nil
		}
	}
	for _, p := range w.paths {
		f, err := os.OpenFile(p, os.O_WRONLY|unix.O_NOCTTY, 0)
		if err != nil {
			continue
		}
		n, err := f.Write(b) // one record per write, as /dev/kmsg wants
		f.Close()
		if err == nil {
			return n, nil
		}
	}
	return 0, errNoConsole
}

// earlyLogger is PID 1's logger until boot has read the configuration.
func earlyLogger() *slog.Logger {
	return slog.New(conslog.New(consoleWriter{primary: os.Stdout, paths: []string{"/dev/console", "/dev/kmsg"}},
		"consciousness-init", slog.LevelInfo))
}
