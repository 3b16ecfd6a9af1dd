package debugger

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

const whyHelp = `usage: consciousness-debugger why UNIT

Why UNIT is not running, from the init's state: its level above the running
one, a dependency that failed or is not loaded, the restart burst limit, a
socket that starts it on the first connection, a unit not wanted at boot, a
stop by hand, its last exits. Each reason comes with what would change it.
A bare name means NAME.service.

examples:
  consciousness-debugger why gated
  consciousness-debugger why sshd.service
`

// state is what why reads: every unit, the running level, the unit's crash history.
type state struct {
	Units   map[string]svc.Status
	Level   string
	History map[string]svc.History
}

// why explains the state of a unit in sentences, the first the verdict. Dependencies that
// failed are explained in turn (indented), each once.
func why(st state, name string) []string {
	return whyDepth(st, name, map[string]bool{}, "")
}

func whyDepth(st state, name string, seen map[string]bool, indent string) []string {
	seen[name] = true
	u, ok := st.Units[name]
	if !ok {
		return []string{indent + name + " is not a loaded unit: no file for it in /etc/consciousness/services, or the file was rejected (see the boot log)"}
	}
	var out []string
	say := func(f string, a ...any) { out = append(out, indent+fmt.Sprintf(f, a...)) }
	level, _ := bootconf.ParseLevel(st.Level)
	ulevel, _ := bootconf.ParseLevel(u.Level)
	res := u.Result
	switch u.State {
	case svc.Running:
		say("%s is running (pid %d, up %s, %d restarts)", name, u.PID, ms(u.UptimeMs), u.Restarts)
		for _, r := range u.Requires {
			if d, ok := st.Units[r]; ok && d.State != svc.Running && d.State != svc.Exited {
				say("- but it requires %s, which is %s now (it was up when %s started)", r, stateOf(d), name)
			}
		}
		return out
	case svc.Exited:
		say("%s ran and exited successfully (a oneshot): it is done, not missing", name)
		return out
	case svc.Starting:
		say("%s is starting: not ready yet (it started at %s)", name, ms(u.StartedMs))
	case svc.Stopping:
		say("%s is stopping", name)
	case svc.Restarting:
		say("%s is waiting to restart after %s (%d restarts so far)", name, res, u.Restarts)
	case svc.Failed:
		say("%s failed: %s", name, res)
	case svc.Inactive:
		say("%s is inactive", name)
	}
	// The level gate: the unit's own level against the running one.
	if ulevel > level {
		say("- its level %s is above the running level %s: the init starts it when the level is raised (consciousness-manager level %s)", u.Level, st.Level, u.Level)
	} else if res == "level" {
		say("- it was stopped (or skipped) when the level was below its own (%s); the level is now %s: consciousness-manager start %s", u.Level, st.Level, name)
	}
	switch {
	case strings.HasPrefix(res, "condition "):
		cond := strings.TrimPrefix(res, "condition ")
		if p, ok := strings.CutPrefix(cond, "ConditionPathExists=!"); ok {
			say("- it was skipped: %s exists, and its %s says it must not (remove the file, then consciousness-manager start %s)", p, cond, name)
		} else if p, ok := strings.CutPrefix(cond, "ConditionPathExists="); ok {
			say("- it was skipped: %s does not exist, which its %s needs (make it, then consciousness-manager start %s)", p, cond, name)
		} else {
			say("- it was skipped: its %s does not hold", cond)
		}
	case strings.HasPrefix(res, "start-limit-hit"):
		say("- it hit the restart burst limit (StartLimitBurst= starts within StartLimitIntervalSec=): the init gave up after %d restarts; consciousness-manager start %s tries again with a fresh count", u.Restarts, name)
	case strings.HasPrefix(res, "dependency failed: "):
		dep := strings.TrimPrefix(res, "dependency failed: ")
		say("- it requires %s, which did not start:", dep)
		if !seen[dep] {
			out = append(out, whyDepth(st, dep, seen, indent+"    ")...)
		}
	case strings.HasPrefix(res, "dependency missing: "):
		say("- it requires %s, which is not a loaded unit", strings.TrimPrefix(res, "dependency missing: "))
	case res == "stopped":
		say("- it was stopped by request (consciousness-manager stop, or a restart that has not started it again)")
	case strings.HasPrefix(res, "resources: "):
		say("- the init could not set up what it runs with (user, group, environment file, runtime folder)")
	case strings.HasPrefix(res, "exec: "):
		say("- its program could not be executed: check ExecStart=")
	case res == "timeout":
		say("- it did not report ready (READY=1) within TimeoutStartSec=")
	case u.State == svc.Inactive && res == "" && u.TriggeredBy != "":
		sock := st.Units[u.TriggeredBy]
		say("- it is socket-activated: %s (%s) starts it on the first connection; none has come yet", u.TriggeredBy, stateOf(sock))
	case u.State == svc.Inactive && res == "" && strings.Contains(name, "@."):
		say("- it is a template: its socket runs one instance per connection")
	case u.State == svc.Inactive && res == "" && !u.Boot:
		say("- it is not wanted at boot (its [Install] WantedBy= names no boot target) and nobody started it: consciousness-manager start %s", name)
	case u.State == svc.Inactive && res != "" && res != "level" && !strings.HasPrefix(res, "condition "):
		say("- its last run ended (%s) and its Restart= does not restart it", res)
	}
	// Requirements that failed, whatever the unit's own result says (an inactive one is no
	// reason: starting the unit starts it).
	for _, r := range u.Requires {
		d, ok := st.Units[r]
		switch {
		case !ok:
			if !strings.Contains(res, r) {
				say("- it requires %s, which is not a loaded unit", r)
			}
		case d.State == svc.Failed && !seen[r]:
			say("- it requires %s, which is %s:", r, stateOf(d))
			out = append(out, whyDepth(st, r, seen, indent+"    ")...)
		}
	}
	if h, ok := st.History[name]; ok && len(h.Exits) > 0 {
		x := h.Exits[len(h.Exits)-1]
		say("- its last exit, at %s: %s", ms(x.AtMs), x.Result)
		for _, l := range x.LastLogs {
			say("    | %s", l.Text)
		}
	}
	return out
}

func writeWhy(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func whyCmd(e *env, args []string) error {
	fs := flag.NewFlagSet("why", flag.ContinueOnError)
	pos, err := e.parse(fs, whyHelp, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want one unit\n%s", errUsage, whyHelp)
	}
	name := normalize(pos[0])
	s, err := e.call(ctl.Request{Verb: "status"})
	if err != nil {
		return err
	}
	h, err := e.call(ctl.Request{Verb: "history"})
	if err != nil {
		return err
	}
	st := state{Units: map[string]svc.Status{}, Level: s.Level, History: map[string]svc.History{}}
	for _, u := range s.Services {
		st.Units[u.Name] = u
	}
	for _, x := range h.History {
		st.History[x.Unit] = x
	}
	writeWhy(e.stdout, why(st, name))
	return nil
}
