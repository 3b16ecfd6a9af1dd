// Package modload loads kernel modules listed by the image builder, in
// parallel where their dependencies allow.
//
// The builder writes /etc/consciousness/modules (one absolute path per line, in
// dependency order) and /etc/consciousness/modules.dep ("path: dep dep", like
// depmod's modules.dep). A module starts once every module listed before it
// that it depends on has loaded; modules with no edge between them load
// concurrently.
package modload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/genai-os/genai-build/initramfs/guard"
	"github.com/genai-os/genai-build/initramfs/linescan"
)

// lines is linescan.Each with the errors joined. The builder writes these files; a bad line is
// reported and skipped, never fatal to the boot.
func lines(name string, r io.Reader, fn func(n int, l string) error) error {
	return errors.Join(linescan.Each(name, r, fn)...)
}

// ReadList reads a module list: one path per line; blank lines and '#' comments
// are skipped. Duplicates are an error, reported with name:line.
func ReadList(name string, r io.Reader) ([]string, error) {
	var mods []string
	seen := map[string]int{}
	err := lines(name, r, func(n int, l string) error {
		if prev, dup := seen[l]; dup {
			return fmt.Errorf("%s already listed on line %d", l, prev)
		}
		seen[l] = n
		mods = append(mods, l)
		return nil
	})
	return mods, err
}

// ParseDep reads a modules.dep: lines "path: dep-path dep-path". A module may
// have no line, or a line with no deps. Errors carry name:line.
func ParseDep(name string, r io.Reader) (map[string][]string, error) {
	deps := map[string][]string{}
	err := lines(name, r, func(_ int, l string) error {
		mod, rest, ok := strings.Cut(l, ":")
		mod = strings.TrimSpace(mod)
		if !ok || mod == "" {
			return fmt.Errorf("want \"module: deps...\", got %q", l)
		}
		if _, dup := deps[mod]; dup {
			return fmt.Errorf("%s listed twice", mod)
		}
		deps[mod] = strings.Fields(rest)
		return nil
	})
	return deps, err
}

// ErrDepFailed is wrapped in the Result of a module that was not tried because
// a module it depends on failed; fixing that dependency fixes this one.
var ErrDepFailed = errors.New("dependency failed")

// Result is the outcome of one module.
type Result struct {
	Path     string
	Err      error         // nil when loaded (or already loaded)
	Start    time.Duration // since Load began
	Duration time.Duration
}

// LoadFunc loads one module.
type LoadFunc func(ctx context.Context, path string) error

// Load runs load for every module in mods, at most parallel at a time, each one
// after the modules listed before it that deps says it depends on. Edges to
// modules that are not listed, or are listed after the module, are ignored
// (the list order is authoritative, which also rules out cycles). Results are in
// list order. A module whose dependency failed is not tried (ErrDepFailed).
func Load(ctx context.Context, mods []string, deps map[string][]string, parallel int, load LoadFunc) []Result {
	if parallel < 1 {
		parallel = 1
	}
	index := make(map[string]int, len(mods))
	for i, m := range mods {
		index[m] = i
	}
	type state struct {
		done chan struct{}
		err  error
	}
	st := make([]state, len(mods))
	for i := range st {
		st[i].done = make(chan struct{})
	}
	res := make([]Result, len(mods))
	sem := make(chan struct{}, parallel)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, m := range mods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(st[i].done)
			res[i].Path = m
			for _, d := range deps[m] {
				j, ok := index[d]
				if !ok || j >= i {
					continue
				}
				<-st[j].done
				if st[j].err != nil {
					st[i].err = fmt.Errorf("%s: %w: %s", m, ErrDepFailed, d)
					res[i].Err = st[i].err
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				st[i].err = fmt.Errorf("%s: %w", m, ctx.Err())
				res[i].Err = st[i].err
				return
			}
			res[i].Start = time.Since(t0)
			var err error
			if p := guard.Call("loading "+m, func() { err = load(ctx, m) }); p != nil {
				err = p // a *guard.Panic, with the stack
			}
			res[i].Duration = time.Since(t0) - res[i].Start
			<-sem
			if err != nil {
				err = fmt.Errorf("%s: %w", m, err)
			}
			st[i].err, res[i].Err = err, err
		}()
	}
	wg.Wait()
	return res
}
