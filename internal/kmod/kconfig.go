package kmod

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Config is a kernel .config: option name (with its CONFIG_ prefix) -> value as written after
// '=' ("y", "m", "123", "0x10", or a string with its double quotes). Options written as
// "# CONFIG_X is not set" are stored as "n"; Value reports absent options as "n" too, which is
// what Kconfig means by both.
type Config map[string]string

// Value returns the option's value, "n" if the kernel does not have it.
func (c Config) Value(option string) string {
	if v, ok := c[option]; ok {
		return v
	}
	return "n"
}

// notSetSuffix ends a disabled option's line (scripts/kconfig/confdata.c, conf_write_symbol).
const notSetSuffix = " is not set"

// parseNotSet returns X for a line "# CONFIG_X is not set".
func parseNotSet(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "# ")
	if !ok {
		return "", false
	}
	opt, ok := strings.CutSuffix(rest, notSetSuffix)
	if !ok || !validOption(opt) {
		return "", false
	}
	return opt, true
}

func validOption(opt string) bool {
	name, ok := strings.CutPrefix(opt, "CONFIG_")
	if !ok || name == "" {
		return false
	}
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validValue accepts what conf_write_symbol writes: y, m, n, a decimal or hex number, or a
// double-quoted string with backslash escapes.
func validValue(v string) bool {
	switch {
	case v == "y" || v == "m" || v == "n":
		return true
	case strings.HasPrefix(v, `"`):
		_, err := strconv.Unquote(v)
		return err == nil && len(v) >= 2
	case strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X"):
		_, err := strconv.ParseUint(v[2:], 16, 64)
		return err == nil
	default:
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	}
}

// ParseConfig reads a kernel .config. Lines other than options, "is not set" lines, comments and
// blank lines are errors ("line N: ..."). A later line for the same option wins, as in Kconfig.
func ParseConfig(r io.Reader) (Config, error) {
	cfg := Config{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if opt, ok := parseNotSet(line); ok {
			cfg[opt] = "n"
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		opt, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not CONFIG_X=value", n, line)
		}
		if !validOption(opt) {
			return nil, fmt.Errorf("line %d: %q is not a CONFIG_ option name", n, opt)
		}
		if !validValue(val) {
			return nil, fmt.Errorf("line %d: %s: invalid value %q", n, opt, val)
		}
		cfg[opt] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading kernel config: %w", err)
	}
	return cfg, nil
}

// Requirement is one line of a requirement fragment: the option must have one of Allowed ("n"
// meaning "not set").
type Requirement struct {
	Option  string
	Allowed []string
	File    string
	Line    int
}

func (q Requirement) String() string {
	if len(q.Allowed) == 1 && q.Allowed[0] == "n" {
		return "# " + q.Option + notSetSuffix
	}
	return q.Option + "=" + strings.Join(q.Allowed, "|")
}

// ParseRequirements reads one of our fragments (kconfig/*.config), named name in errors and in
// the requirements. Lines are "CONFIG_X=y", "CONFIG_X=m", "CONFIG_X=y|m" (either will do), or
// any .config value such as "CONFIG_HZ=1000"; "# CONFIG_X is not set" requires the option off.
// Other comments and blank lines are skipped. An option named twice in one file is an error.
func ParseRequirements(name string, r io.Reader) ([]Requirement, error) {
	var reqs []Requirement
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		var q Requirement
		if opt, ok := parseNotSet(line); ok {
			q = Requirement{Option: opt, Allowed: []string{"n"}}
		} else if line == "" || strings.HasPrefix(line, "#") {
			continue
		} else {
			opt, val, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: %q is not CONFIG_X=value", name, n, line)
			}
			if !validOption(opt) {
				return nil, fmt.Errorf("%s:%d: %q is not a CONFIG_ option name", name, n, opt)
			}
			q.Option = opt
			for _, alt := range strings.Split(val, "|") {
				if alt == "n" {
					return nil, fmt.Errorf("%s:%d: %s: write \"# %s is not set\" to require it off", name, n, opt, opt)
				}
				if !validValue(alt) {
					return nil, fmt.Errorf("%s:%d: %s: invalid value %q", name, n, opt, alt)
				}
				q.Allowed = append(q.Allowed, alt)
			}
		}
		if prev, dup := seen[q.Option]; dup {
			return nil, fmt.Errorf("%s:%d: %s already required on line %d", name, n, q.Option, prev)
		}
		seen[q.Option] = n
		q.File, q.Line = name, n
		reqs = append(reqs, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return reqs, nil
}

// Violation is a requirement the kernel config does not meet.
type Violation struct {
	Requirement
	Got string // the kernel's value, or "not set"
}

func (v Violation) Error() string {
	got := "it not set"
	if v.Got != "not set" {
		got = v.Option + "=" + v.Got
	}
	if len(v.Allowed) == 1 && v.Allowed[0] == "n" {
		return fmt.Sprintf("%s:%d: %s must not be set, kernel has %s", v.File, v.Line, v.Option, got)
	}
	return fmt.Sprintf("%s:%d: %s required, kernel has %s", v.File, v.Line, v.Requirement, got)
}

// Check returns every requirement cfg does not meet, in the order of reqs.
func Check(cfg Config, reqs []Requirement) []Violation {
	var out []Violation
	for _, q := range reqs {
		got := cfg.Value(q.Option)
		ok := false
		for _, a := range q.Allowed {
			if a == got {
				ok = true
				break
			}
		}
		if ok {
			continue
		}
		if got == "n" {
			got = "not set"
		}
		out = append(out, Violation{Requirement: q, Got: got})
	}
	return out
}
