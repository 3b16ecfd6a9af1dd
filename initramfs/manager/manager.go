// Package manager is the consciousness-manager command: it drives the init over its control socket
// (status, start, stop, restart, reload, logs, boot, level, poweroff, reboot). It is an applet of
// the init's binary (see initramfs/cmd/consciousness-init).
package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

const usage = `usage: consciousness-manager [--json] [--socket PATH] VERB [ARGS]
  status [SERVICE...]     state, pid, uptime, restarts, level of services
  start|stop|restart|reload SERVICE...
  logs [-f] SERVICE       captured stdout and stderr
  boot                    the boot timeline
  level [VALUE]           show or change the consciousness level (0.0..1.0)
  poweroff | reboot
Flags go anywhere (status --json, logs sshd.service -f); "--" ends them.`

// options is a parsed command line.
type options struct {
	json   bool
	socket string
	follow bool
	verb   string
	args   []string
}

// parseArgs reads the flags wherever they stand, before or after the verb and its arguments, as
// systemctl and cobra tools do (GNU getopt's argument permutation); "--" ends the flags. Flags:
// --json, --socket PATH (or --socket=PATH), -f/--follow (logs only); one dash or two.
func parseArgs(args []string) (options, error) {
	o := options{socket: ctl.DefaultSocket}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, fmt.Errorf("flag %s: %q is not a boolean", a, val)
			}
			return b, nil
		}
		var err error
		switch name {
		case "json":
			o.json, err = boolVal()
		case "f", "follow":
			o.follow, err = boolVal()
		case "socket":
			if !hasVal {
				if i+1 >= len(args) {
					return o, fmt.Errorf("flag %s needs a path", a)
				}
				i++
				val = args[i]
			}
			o.socket = val
		case "h", "help":
			return o, errors.New(usage)
		default:
			return o, fmt.Errorf("unknown flag %s", a)
		}
		if err != nil {
			return o, err
		}
	}
	if len(pos) == 0 {
		return o, errors.New("no verb")
	}
	o.verb, o.args = pos[0], pos[1:]
	if o.follow && o.verb != "logs" {
		return o, fmt.Errorf("-f is for logs, not %s", o.verb)
	}
	return o, nil
}

// Run runs the command with args (without the program name), answering on stdout.
func Run(ctx context.Context, stdout io.Writer, args []string) error {
	o, err := parseArgs(args)
	if err != nil {
		if err.Error() == usage {
			return err
		}
		return fmt.Errorf("%v\n%s", err, usage)
	}
	req := ctl.Request{Verb: o.verb, Args: o.args, Follow: o.follow}
	var more func(ctl.Response) error
	if req.Follow {
		more = func(r ctl.Response) error {
			if o.json {
				return json.NewEncoder(stdout).Encode(r)
			}
			printLines(stdout, r.Lines)
			return nil
		}
	}
	resp, err := ctl.Call(ctx, o.socket, req, more)
	if err != nil {
		return fmt.Errorf("%s: %w", o.socket, err)
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	return printText(stdout, req, resp)
}

func printText(w io.Writer, req ctl.Request, r ctl.Response) error {
	switch req.Verb {
	case "status":
		printStatus(w, r.Services)
		fmt.Fprintf(w, "level %s\n", r.Level)
	case "start", "restart":
		fmt.Fprintf(w, "%s: %d/%d ok", req.Verb, r.Report.OK, r.Report.Total)
		if len(r.Report.Failed) > 0 {
			fmt.Fprintf(w, ", failed: %s", strings.Join(r.Report.Failed, " "))
		}
		if len(r.Report.Skipped) > 0 {
			fmt.Fprintf(w, ", skipped by level: %s", strings.Join(r.Report.Skipped, " "))
		}
		fmt.Fprintln(w)
	case "logs":
		printLines(w, r.Lines)
	case "boot":
		printBoot(w, r)
	case "level":
		fmt.Fprintln(w, r.Level)
		if r.Report != nil {
			fmt.Fprintf(w, "started %d/%d", r.Report.OK, r.Report.Total)
			if len(r.Report.Failed) > 0 {
				fmt.Fprintf(w, ", failed: %s", strings.Join(r.Report.Failed, " "))
			}
			fmt.Fprintln(w)
		}
	default:
		fmt.Fprintln(w, "ok")
	}
	return nil
}

func printStatus(w io.Writer, ss []svc.Status) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tPID\tUPTIME\tRESTARTS\tLEVEL\tDETAIL")
	for _, s := range ss {
		pid, up := "-", "-"
		if s.PID != 0 {
			pid = fmt.Sprint(s.PID)
		}
		if s.UptimeMs > 0 {
			up = (time.Duration(s.UptimeMs) * time.Millisecond).Round(time.Second).String()
		}
		detail := s.Result
		if s.StatusText != "" {
			detail = s.StatusText
		}
		if !s.Boot && s.State == svc.Inactive && detail == "" {
			detail = "not started at boot"
			if s.TriggeredBy != "" {
				detail = "started by " + s.TriggeredBy
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.State, pid, up, s.Restarts, s.Level, detail)
	}
	tw.Flush()
}

func printLines(w io.Writer, ls []svc.LogLine) {
	for _, l := range ls {
		fmt.Fprintf(w, "[%9.3f] %s\n", float64(l.At)/float64(time.Second), l.Text)
	}
}

func printBoot(w io.Writer, r ctl.Response) {
	b := r.Boot
	if b == nil {
		b = &ctl.BootInfo{}
	}
	fmt.Fprintf(w, "edition %s, level %s\n", b.Edition, b.Level)
	if b.ExecMs > 0 {
		fmt.Fprintf(w, "kernel start -> exec /init   %6d ms\n", b.ExecMs)
	}
	fmt.Fprintf(w, "kernel start -> init main    %6d ms\n", b.InitMs)
	for _, p := range b.Phases {
		fmt.Fprintf(w, "  %-26s %6d ms\n", p.Name, p.Ms)
	}
	fmt.Fprintf(w, "kernel start -> ready        %6d ms  (services %d/%d)\n", b.ReadyMs, b.ServicesOK, b.ServicesTotal)
	fmt.Fprintf(w, "modules loaded in            %6d ms\n", b.ModulesMs)
	ss := append([]svc.Status(nil), r.Services...)
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].StartedMs < ss[j].StartedMs })
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "START ms\tREADY ms\tTOOK ms\t SERVICE\t STATE\t")
	for _, s := range ss {
		if s.StartedMs == 0 && s.ReadyMs == 0 {
			continue
		}
		took, ready := "-", "-"
		if s.ReadyMs > 0 {
			ready, took = fmt.Sprint(s.ReadyMs), fmt.Sprint(s.ReadyMs-s.StartedMs)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t %s\t %s\t\n", s.StartedMs, ready, took, s.Name, s.State)
	}
	tw.Flush()
}
