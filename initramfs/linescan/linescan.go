// Package linescan reads the init's line-oriented files (the module lists, live.conf, the medium's
// /live/layers): blank lines and '#' comments are skipped, and a bad line is reported with its
// file and line number rather than stopping the read, so the boot goes on with what parsed.
package linescan

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Each calls fn with each line of r that is neither blank nor a '#' comment, trimmed, and its
// number. fn's errors and the reader's are returned, each prefixed with name:line (or name).
func Each(name string, r io.Reader, fn func(n int, l string) error) []error {
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		if err := fn(n, l); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return errs
}
