package modload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Alias is one line of a modules.alias file: devices whose modalias matches
// Pattern are driven by Module.
type Alias struct {
	Pattern string // a glob (fnmatch(3)), normalized as kmod does (see Normalize)
	Module  string // canonical module name ('_', not '-')
}

// ParseAlias reads a modules.alias in depmod's format: "alias <glob> <module>"
// lines, '#' comments. Bad lines are errors with name:line; the good ones are
// returned all the same.
func ParseAlias(name string, r io.Reader) ([]Alias, error) {
	var out []Alias
	err := lines(name, r, func(_ int, l string) error {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "alias" {
			return fmt.Errorf("want \"alias <pattern> <module>\", got %q", l)
		}
		out = append(out, Alias{Pattern: Normalize(f[1]), Module: Canonical(f[2])})
		return nil
	})
	return out, err
}

// Canonical is the form in which module names compare: the kernel treats '-'
// and '_' alike in module names (kernel/params.c parameqn; kmod's modname_normalize).
func Canonical(name string) string { return strings.ReplaceAll(name, "-", "_") }

// ModuleName is the canonical name of a module file: "/lib/.../xhci-pci.ko.xz" -> "xhci_pci".
func ModuleName(p string) string {
	base := path.Base(p)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		base = strings.TrimSuffix(base, ext)
	}
	return Canonical(strings.TrimSuffix(base, ".ko"))
}

// Normalize turns '-' into '_' outside bracket expressions, as kmod does to
// both aliases and the modalias it looks up (libkmod-util.c, alias_normalize).
func Normalize(s string) string {
	if !strings.Contains(s, "-") {
		return s
	}
	b := []byte(s)
	inBracket := false
	for i, c := range b {
		switch {
		case c == '[':
			inBracket = true
		case c == ']':
			inBracket = false
		case c == '-' && !inBracket:
			b[i] = '_'
		}
	}
	return string(b)
}

// Match reports whether s matches pattern under fnmatch(3) with no flags, the
// way kmod matches a device's modalias against modules.alias: '*' matches any
// run of bytes (also '/'), '?' any one byte, "[...]" a set with ranges and
// '!' or '^' negation (a leading ']' is literal), '\' quotes the next byte. A
// malformed bracket ("[" with no closing ']') matches a literal '['.
func Match(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0 // where to resume after the last '*'
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if ok, next, valid := matchBracket(pattern, p, s[i]); valid {
					if ok {
						p, i = next, i+1
						continue
					}
				} else if s[i] == '[' {
					p, i = p+1, i+1
					continue
				}
			case '\\':
				if p+1 < len(pattern) && pattern[p+1] == s[i] {
					p, i = p+2, i+1
					continue
				}
				if p+1 == len(pattern) && s[i] == '\\' {
					p, i = p+1, i+1
					continue
				}
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchBracket matches c against the bracket expression at pattern[start]
// ('['). It returns whether c is in the set, the index after the closing ']',
// and whether the expression is well formed.
func matchBracket(pattern string, start int, c byte) (match bool, next int, valid bool) {
	p := start + 1
	negate := false
	if p < len(pattern) && (pattern[p] == '!' || pattern[p] == '^') {
		negate = true
		p++
	}
	first := true
	for p < len(pattern) {
		lo := pattern[p]
		if lo == ']' && !first {
			return match != negate, p + 1, true
		}
		first = false
		if lo == '\\' && p+1 < len(pattern) {
			p++
			lo = pattern[p]
		}
		p++
		hi := lo
		if p+1 < len(pattern) && pattern[p] == '-' && pattern[p+1] != ']' {
			hi = pattern[p+1]
			if hi == '\\' && p+2 < len(pattern) {
				hi = pattern[p+2]
				p++
			}
			p += 2
		}
		if lo <= c && c <= hi {
			match = true
		}
	}
	return false, 0, false
}

// Modaliases returns the modalias of every device under dir (normally
// /sys/devices), normalized, sorted and without duplicates. Unreadable files
// are skipped: a device that vanished while walking is no error.
func Modaliases(dir string) ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // a device that went away, or a file we may not read
		}
		if d.IsDir() || d.Name() != "modalias" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if a := strings.TrimSpace(string(b)); a != "" {
			seen[Normalize(a)] = true
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out, err
}

// Select returns, from mods (in their order), the modules to load for these
// devices: those with an alias matching one of devices, those with no alias at
// all (file systems and libraries: nothing announces a need for them), and
// every module these depend on (deps, transitively). skipped are the modules
// left out.
func Select(mods []string, deps map[string][]string, aliases []Alias, devices []string) (load, skipped []string) {
	byModule := map[string][]string{}
	for _, a := range aliases {
		byModule[a.Module] = append(byModule[a.Module], a.Pattern)
	}
	want := map[string]bool{}
	var add func(m string)
	add = func(m string) {
		if want[m] {
			return
		}
		want[m] = true
		for _, d := range deps[m] {
			add(d)
		}
	}
	for _, m := range mods {
		pats, ok := byModule[ModuleName(m)]
		if !ok {
			add(m)
			continue
		}
	devs:
		for _, dev := range devices {
			for _, pat := range pats {
				if Match(pat, dev) {
					add(m)
					break devs
				}
			}
		}
	}
	for _, m := range mods {
		if want[m] {
			load = append(load, m)
		} else {
			skipped = append(skipped, m)
		}
	}
	return load, skipped
}

// Coldplug loads the modules that the devices present need, in rounds: a
// driver that loads can bring more devices (a host controller's driver finds
// the disks or USB devices behind it), so after each round it scans again and
// loads what the new devices need, until a scan brings nothing new and Settle
// has passed without a new device.
type Coldplug struct {
	Mods     []string            // the module list, in dependency order
	Deps     map[string][]string // modules.dep
	Aliases  []Alias             // modules.alias
	Scan     func() ([]string, error)
	Load     LoadFunc
	Parallel int
	// Settle is how long to keep scanning after a round of loads for devices
	// that appear late (USB enumeration, SCSI scans run asynchronously); Poll is
	// the interval between those scans.
	Settle, Poll time.Duration
}

// Run loads the modules and returns every load's result (in load order) and
// the listed modules that no device needed. Scan errors are joined into err;
// loading goes on with what was scanned.
func (c Coldplug) Run(ctx context.Context) (res []Result, skipped []string, err error) {
	if c.Poll <= 0 {
		c.Poll = 100 * time.Millisecond
	}
	var errs []error
	tried := map[string]error{}
	var devices []string
	scan := func() bool {
		d, err := c.Scan()
		if err != nil {
			errs = append(errs, err)
		}
		grew := !slices.Equal(d, devices)
		devices = d
		return grew
	}
	round := func() bool {
		load, _ := Select(c.Mods, c.Deps, c.Aliases, devices)
		var todo []string
		for _, m := range load {
			if _, done := tried[m]; !done {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			return false
		}
		rs := Load(ctx, todo, c.Deps, c.Parallel, func(ctx context.Context, m string) error {
			for _, d := range c.Deps[m] { // a dependency loaded or failed in an earlier round
				if e, done := tried[d]; done && e != nil {
					return fmt.Errorf("%w: %s", ErrDepFailed, d)
				}
			}
			return c.Load(ctx, m)
		})
		for _, r := range rs {
			tried[r.Path] = r.Err
		}
		res = append(res, rs...)
		return true
	}
	scan()
	for ctx.Err() == nil {
		if round() {
			scan()
			continue
		}
		// Nothing new to load: wait for late devices.
		var waited time.Duration
		grew := false
		for waited < c.Settle && ctx.Err() == nil {
			time.Sleep(c.Poll)
			waited += c.Poll
			if grew = scan(); grew {
				break
			}
		}
		if !grew {
			break
		}
	}
	for _, m := range c.Mods {
		if _, done := tried[m]; !done {
			skipped = append(skipped, m)
		}
	}
	return res, skipped, errors.Join(errs...)
}
