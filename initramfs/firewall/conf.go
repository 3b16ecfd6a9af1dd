// Package firewall is the init's deny-by-default inbound firewall: /etc/consciousness/firewall.conf
// (written by genai-build from the edition's firewall: section), the nftables ruleset made from it
// and its application over netlink (google/nftables), and forwarding turned off.
package firewall

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/initramfs/linescan"
)

// Config is /etc/consciousness/firewall.conf.
//
// The format is the init's: one "key = value" per line, '#' starts a comment line, blank lines are
// ignored. Keys:
//
//	enabled = yes|no        (once; required)
//	allow = tcp/22          (any number; tcp or udp, port 1-65535)
//
// A file that says nothing is an error: the builder always writes enabled.
type Config struct {
	Enabled bool
	Allow   []Port // sorted (tcp before udp, by port), each once
}

// Port is one allowed inbound port.
type Port struct {
	Proto string // "tcp" or "udp"
	Num   uint16
}

func (p Port) String() string { return p.Proto + "/" + strconv.Itoa(int(p.Num)) }

// ParsePort reads "tcp/22" or "udp/53".
func ParsePort(s string) (Port, error) {
	proto, num, ok := strings.Cut(s, "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return Port{}, fmt.Errorf("%q: want tcp/PORT or udp/PORT", s)
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 || num != strconv.FormatUint(n, 10) {
		return Port{}, fmt.Errorf("%q: the port is a number from 1 to 65535", s)
	}
	return Port{Proto: proto, Num: uint16(n)}, nil
}

func comparePorts(a, b Port) int {
	if c := strings.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	return int(a.Num) - int(b.Num)
}

// Parse reads a firewall.conf; name is used in the errors (name:line: problem). Every problem is
// reported (errors.Join). The caller must not apply a Config returned with an error.
func Parse(name string, r io.Reader) (Config, error) {
	var c Config
	seenEnabled := false
	errs := linescan.Each(name, r, func(_ int, line string) error {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%q: want key = value", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "enabled":
			if seenEnabled {
				return errors.New("enabled given twice")
			}
			seenEnabled = true
			switch v {
			case "yes":
				c.Enabled = true
			case "no":
			default:
				return fmt.Errorf("enabled = %q: want yes or no", v)
			}
		case "allow":
			p, err := ParsePort(v)
			if err != nil {
				return fmt.Errorf("allow = %w", err)
			}
			if slices.Contains(c.Allow, p) {
				return fmt.Errorf("allow = %s given twice", p)
			}
			c.Allow = append(c.Allow, p)
		default:
			return fmt.Errorf("unknown key %q (enabled, allow)", k)
		}
		return nil
	})
	if !seenEnabled && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no enabled = yes|no line", name))
	}
	slices.SortFunc(c.Allow, comparePorts)
	return c, errors.Join(errs...)
}

// Format writes c in the format Parse reads; header is a comment put first (without '#').
func Format(c Config, header string) []byte {
	var b strings.Builder
	if header != "" {
		fmt.Fprintf(&b, "# %s\n", header)
	}
	yn := "no"
	if c.Enabled {
		yn = "yes"
	}
	fmt.Fprintf(&b, "enabled = %s\n", yn)
	ports := slices.Clone(c.Allow)
	slices.SortFunc(ports, comparePorts)
	for _, p := range slices.Compact(ports) {
		fmt.Fprintf(&b, "allow = %s\n", p)
	}
	return []byte(b.String())
}

// Summary is the console line's description: "input=drop allow=tcp/22,udp/53" ("allow=none").
func (c Config) Summary() string {
	var ps []string
	for _, p := range c.Allow {
		ps = append(ps, p.String())
	}
	allow := strings.Join(ps, ",")
	if allow == "" {
		allow = "none"
	}
	return "input=drop allow=" + allow
}
