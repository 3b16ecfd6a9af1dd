// Package auditd is genai-auditd, GenAI OS's audit daemon: it registers with the kernel as the
// audit daemon, enables audit, loads rules written in auditctl's syntax, and appends every record
// to /var/log/audit/audit.log in auditd's text format, where ausearch and the security tools read
// them. Built on github.com/elastic/go-libaudit/v2.
package auditd

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/elastic/go-libaudit/v2/rule/flags"
	"github.com/genai-os/genai-build/initramfs/linescan"
)

// Rules is a parsed rules file (auditctl's syntax, one command per line, as audit.rules(7)).
type Rules struct {
	Rules   []rule.WireFormat // -a, -w rules, in order
	Text    []string          // the lines they came from
	Backlog uint32            // -b N (0: leave the kernel's)
	// Enabled is -e: 1 on (the default), 2 on and locked until reboot (immutable).
	Enabled int
	// Failure is -f: 0 silent, 1 printk (the default), 2 panic.
	Failure int
}

// ParseRules reads a rules file; name is used in errors (name:line: problem). Every problem is
// reported. -D (delete all rules) is accepted: the daemon always starts from no rules.
func ParseRules(name string, r io.Reader) (Rules, error) {
	rs := Rules{Enabled: 1, Failure: 1}
	errs := linescan.Each(name, r, func(_ int, line string) error {
		f := strings.Fields(line)
		num := func(lo, hi int) (int, error) {
			if len(f) != 2 {
				return 0, fmt.Errorf("%q: want %s N", line, f[0])
			}
			v, err := strconv.Atoi(f[1])
			if err != nil || v < lo || v > hi {
				return 0, fmt.Errorf("%q: want %s with a number from %d to %d", line, f[0], lo, hi)
			}
			return v, nil
		}
		var err error
		switch f[0] {
		case "-D":
			if len(f) != 1 {
				return fmt.Errorf("%q: -D takes no arguments here", line)
			}
		case "-b":
			var v int
			v, err = num(1, 1<<20)
			rs.Backlog = uint32(v)
		case "-e":
			rs.Enabled, err = num(0, 2)
		case "-f":
			rs.Failure, err = num(0, 2)
		default:
			ru, err := flags.Parse(line)
			if err != nil {
				return err
			}
			wf, err := rule.Build(ru)
			if err != nil {
				return err
			}
			rs.Rules = append(rs.Rules, wf)
			rs.Text = append(rs.Text, line)
		}
		return err
	})
	return rs, errors.Join(errs...)
}
