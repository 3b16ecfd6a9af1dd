package assistant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/tools/genai"
)

// system reads and changes the init's state over its control socket.
type system struct{ socket string }

func (s *system) call(ctx context.Context, verb string, a ...string) (ctl.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := ctl.Call(ctx, s.socket, ctl.Request{Verb: verb, Args: a}, nil)
	if err != nil {
		return r, fmt.Errorf("the init's control socket %s: %w", s.socket, err)
	}
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	return r, nil
}

// args are every tool's arguments.
type args struct {
	Unit  string `json:"unit"`
	Lines int    `json:"lines"`
	Level string `json:"level"`
}

type toolFunc struct {
	action string // non-empty: changes the system, asks first ("restart")
	run    func(ctx context.Context, s *system, a args) (string, error)
}

const unitParam = `{"type":"object","properties":{"unit":{"type":"string","description":"the unit, e.g. sshd.service (a bare name means NAME.service)"}},"required":["unit"]}`

var toolDefs = []genai.Tool{
	genai.NewTool("list_services", "List every service (unit) of this system with its state, pid, restarts, level and result.", ""),
	genai.NewTool("service_logs", "The last lines a service wrote (stdout and stderr), with seconds since boot.",
		`{"type":"object","properties":{"unit":{"type":"string","description":"the unit, e.g. sshd.service"},"lines":{"type":"integer","description":"how many of the last lines (default 50)"}},"required":["unit"]}`),
	genai.NewTool("boot_timeline", "The boot timeline: the init's phases and when each service started and was ready, in ms since the kernel started.", ""),
	genai.NewTool("consciousness_level", "The current consciousness level (0.0..1.0), which gates which services run.", ""),
	genai.NewTool("start_service", "Start a service (asks the user first).", unitParam),
	genai.NewTool("stop_service", "Stop a service (asks the user first).", unitParam),
	genai.NewTool("restart_service", "Restart a service (asks the user first).", unitParam),
	genai.NewTool("set_level", "Set the consciousness level (asks the user first); services gated above it stop, those at or below it start.",
		`{"type":"object","properties":{"level":{"type":"string","description":"0.0 to 1.0"}},"required":["level"]}`),
}

var toolFuncs = map[string]toolFunc{
	"list_services": {run: func(ctx context.Context, s *system, _ args) (string, error) {
		r, err := s.call(ctx, "status")
		if err != nil {
			return "", err
		}
		var b strings.Builder
		tw := tabwriter.NewWriter(&b, 0, 8, 1, ' ', 0)
		fmt.Fprintln(tw, "SERVICE\tSTATE\tPID\tRESTARTS\tLEVEL\tRESULT")
		for _, st := range r.Services {
			res := st.Result
			if st.StatusText != "" {
				res = st.StatusText
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", st.Name, st.State, st.PID, st.Restarts, st.Level, res)
		}
		tw.Flush()
		fmt.Fprintf(&b, "consciousness level %s\n", r.Level)
		return b.String(), nil
	}},
	"service_logs": {run: func(ctx context.Context, s *system, a args) (string, error) {
		r, err := s.call(ctx, "logs", a.Unit)
		if err != nil {
			return "", err
		}
		n := a.Lines
		if n <= 0 {
			n = 50
		}
		lines := r.Lines[max(0, len(r.Lines)-n):]
		if len(lines) == 0 {
			return "(no log lines)", nil
		}
		var b strings.Builder
		for _, l := range lines {
			fmt.Fprintf(&b, "[%9.3f] %s\n", l.At.Seconds(), l.Text)
		}
		return b.String(), nil
	}},
	"boot_timeline": {run: func(ctx context.Context, s *system, _ args) (string, error) {
		r, err := s.call(ctx, "boot")
		if err != nil {
			return "", err
		}
		var b strings.Builder
		if bi := r.Boot; bi != nil {
			fmt.Fprintf(&b, "edition %s, level %s; init main at %d ms, ready at %d ms (%d/%d services ok), modules took %d ms\n",
				bi.Edition, bi.Level, bi.InitMs, bi.ReadyMs, bi.ServicesOK, bi.ServicesTotal, bi.ModulesMs)
			for _, p := range bi.Phases {
				fmt.Fprintf(&b, "phase %s done at %d ms\n", p.Name, p.Ms)
			}
		}
		for _, st := range r.Services {
			if st.StartedMs > 0 {
				fmt.Fprintf(&b, "%s started at %d ms, ready at %d ms, now %s\n", st.Name, st.StartedMs, st.ReadyMs, st.State)
			}
		}
		return b.String(), nil
	}},
	"consciousness_level": {run: func(ctx context.Context, s *system, _ args) (string, error) {
		r, err := s.call(ctx, "level")
		return "consciousness level " + r.Level, err
	}},
	"start_service":   {action: "start", run: unitAction("start")},
	"stop_service":    {action: "stop", run: unitAction("stop")},
	"restart_service": {action: "restart", run: unitAction("restart")},
	"set_level": {action: "set the level to", run: func(ctx context.Context, s *system, a args) (string, error) {
		r, err := s.call(ctx, "level", a.Level)
		if err != nil {
			return "", err
		}
		return "level set to " + r.Level + report(r), nil
	}},
}

func unitAction(verb string) func(ctx context.Context, s *system, a args) (string, error) {
	return func(ctx context.Context, s *system, a args) (string, error) {
		if a.Unit == "" {
			return "", errors.New("no unit given")
		}
		r, err := s.call(ctx, verb, a.Unit)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s: done%s", verb, a.Unit, report(r)), nil
	}
}

func report(r ctl.Response) string {
	if r.Report == nil {
		return ""
	}
	s := fmt.Sprintf("; %d/%d ok", r.Report.OK, r.Report.Total)
	if len(r.Report.Failed) > 0 {
		s += ", failed: " + strings.Join(r.Report.Failed, " ")
	}
	if len(r.Report.Skipped) > 0 {
		s += ", skipped by level: " + strings.Join(r.Report.Skipped, " ")
	}
	return s
}
