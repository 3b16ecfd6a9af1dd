package debugger

import (
	"flag"
	"fmt"
	"io"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

const crashesHelp = `usage: consciousness-debugger crashes [UNIT]

Each unit's recent exits that nobody asked for (the init keeps the last 16 per
unit): when (seconds since boot), the exit code or signal, whether the init
restarted it, and the last lines it wrote before. Without UNIT, every unit
that has exited.

examples:
  consciousness-debugger crashes
  consciousness-debugger crashes sshd        # sshd.service
`

// ms formats a time since boot.
func ms(t int64) string { return fmt.Sprintf("%d.%03ds", t/1000, t%1000) }

// writeCrashes prints the history of each unit that has exits (all given units with one).
func writeCrashes(w io.Writer, hs []svc.History, units map[string]svc.Status, all bool) {
	any := false
	for _, h := range hs {
		if len(h.Exits) == 0 && !all {
			continue
		}
		any = true
		st := units[h.Unit]
		fmt.Fprintf(w, "%s: %d restarts, now %s\n", h.Unit, h.Restarts, stateOf(st))
		if len(h.Exits) == 0 {
			fmt.Fprintln(w, "  no exits recorded")
		}
		for _, x := range h.Exits {
			then := "not restarted"
			if x.Restart {
				then = "restarted"
			}
			fmt.Fprintf(w, "  %10s  %-16s %s\n", ms(x.AtMs), x.Result, then)
			for _, l := range x.LastLogs {
				fmt.Fprintf(w, "  %10s  | %s\n", ms(l.At.Milliseconds()), l.Text)
			}
		}
	}
	if !any {
		fmt.Fprintln(w, "no unit has exited on its own since boot")
	}
}

func crashesCmd(e *env, args []string) error {
	fs := flag.NewFlagSet("crashes", flag.ContinueOnError)
	pos, err := e.parse(fs, crashesHelp, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: at most one unit, got %q", errUsage, pos)
	}
	var names []string
	if len(pos) == 1 {
		names = []string{normalize(pos[0])}
	}
	r, err := e.call(ctl.Request{Verb: "history", Args: names})
	if err != nil {
		return err
	}
	s, err := e.call(ctl.Request{Verb: "status", Args: names})
	if err != nil {
		return err
	}
	units := map[string]svc.Status{}
	for _, u := range s.Services {
		units[u.Name] = u
	}
	writeCrashes(e.stdout, r.History, units, len(names) > 0)
	return nil
}
