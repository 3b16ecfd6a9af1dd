package auditd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	libaudit "github.com/elastic/go-libaudit/v2"
)

// Defaults: auditd's own paths (auditd.conf(5) log_file, audit.rules(7)).
const (
	DefaultRules = "/etc/audit/audit.rules"
	DefaultLog   = "/var/log/audit/audit.log"
)

// firstRecordType is AUDIT_FIRST_USER_MSG (include/uapi/linux/audit.h): lower types are the
// netlink protocol's own messages (status, rule lists, acks), not records.
const firstRecordType = 1100

// Config is what Run needs.
type Config struct {
	Rules Rules
	Log   string // the log file (made 0600, its folder 0700)
	// Ready is called once the daemon is registered and audit is enabled (may be nil).
	Ready func(status string)
}

// Run registers as the audit daemon, enables audit, loads the rules and appends records to the log
// until ctx ends or receiving fails.
func Run(ctx context.Context, c Config) error {
	if err := os.MkdirAll(filepath.Dir(c.Log), 0o700); err != nil {
		return err
	}
	log, err := os.OpenFile(c.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cl, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return fmt.Errorf("audit netlink: %w", err)
	}
	defer cl.Close()
	st, err := cl.GetStatus()
	if err != nil {
		return fmt.Errorf("audit status: %w", err)
	}
	// Locked (enabled=2, by an earlier run of this daemon): the rules stay as they are until
	// reboot; a restarted daemon only registers again.
	if st.Enabled != 2 {
		if err := configure(cl, c.Rules); err != nil {
			return err
		}
	}
	if err := cl.SetPID(libaudit.WaitForReply); err != nil {
		return fmt.Errorf("register as the audit daemon: %w", err)
	}
	if c.Rules.Enabled == 2 && st.Enabled != 2 {
		if err := cl.SetImmutable(libaudit.WaitForReply); err != nil {
			return fmt.Errorf("lock the configuration: %w", err)
		}
	}
	if c.Ready != nil {
		c.Ready(fmt.Sprintf("pid=%d enabled=%d rules=%d log=%s", os.Getpid(), c.Rules.Enabled, len(c.Rules.Rules), c.Log))
	}
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := cl.Receive(false)
			if err != nil {
				errc <- fmt.Errorf("receive: %w", err)
				return
			}
			if m.Type < firstRecordType {
				continue
			}
			if _, err := log.Write(Line(uint16(m.Type), m.Data)); err != nil {
				errc <- fmt.Errorf("%s: %w", c.Log, err)
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// configure sets the backlog, failure mode, rules and enabled state.
func configure(cl *libaudit.AuditClient, rs Rules) error {
	if rs.Backlog > 0 {
		if err := cl.SetBacklogLimit(rs.Backlog, libaudit.WaitForReply); err != nil {
			return fmt.Errorf("backlog limit: %w", err)
		}
	}
	if err := cl.SetFailure(libaudit.FailureMode(rs.Failure), libaudit.WaitForReply); err != nil {
		return fmt.Errorf("failure mode: %w", err)
	}
	if _, err := cl.DeleteRules(); err != nil {
		return fmt.Errorf("delete rules: %w", err)
	}
	for i, r := range rs.Rules {
		if err := cl.AddRule(r); err != nil {
			return fmt.Errorf("rule %q: %w", rs.Text[i], err)
		}
	}
	if err := cl.SetEnabled(rs.Enabled != 0, libaudit.WaitForReply); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	return nil
}

// Main is the command: genai-auditd [-rules FILE] [-log FILE] [-check].
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("genai-auditd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rulesPath := fs.String("rules", DefaultRules, "rules file (auditctl syntax); missing: no rules")
	logPath := fs.String("log", DefaultLog, "log file")
	check := fs.Bool("check", false, "only parse the rules file and print the rules")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var rs Rules
	f, err := os.Open(*rulesPath)
	switch {
	case err == nil:
		rs, err = ParseRules(*rulesPath, f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "genai-auditd: %v\n", err)
			return 1
		}
	case errors.Is(err, os.ErrNotExist) && !*check:
		rs = Rules{Enabled: 1, Failure: 1}
	default:
		fmt.Fprintf(stderr, "genai-auditd: %v\n", err)
		return 1
	}
	if *check {
		for _, l := range rs.Text {
			fmt.Fprintln(stdout, l)
		}
		fmt.Fprintf(stdout, "%d rules, enabled=%d failure=%d backlog=%d\n", len(rs.Rules), rs.Enabled, rs.Failure, rs.Backlog)
		return 0
	}
	err = Run(ctx, Config{Rules: rs, Log: *logPath, Ready: func(s string) { fmt.Fprintf(stdout, "genai-auditd: running %s\n", s) }})
	if err != nil {
		fmt.Fprintf(stderr, "genai-auditd: %v\n", err)
		return 1
	}
	return 0
}
