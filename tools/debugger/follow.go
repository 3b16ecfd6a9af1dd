package debugger

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/genai-os/genai-build/initramfs/ctl"
)

const followHelp = `usage: consciousness-debugger follow [--count N]

The init's events as they happen, one line each: the time since boot, then
"unit NAME STATE [RESULT]" or "level LEVEL". The first line says the stream is
subscribed, with the running level. Runs until Ctrl-C, or N events after the
first with --count. A reader that falls far behind is dropped by the init
(which never waits for it): follow then ends with an error.

examples:
  consciousness-debugger follow
  consciousness-debugger follow --count 3 &    # then: consciousness-manager restart sshd
`

// formatEvent is one event as a line.
func formatEvent(ev ctl.Event) string {
	switch ev.Kind {
	case "hello":
		return fmt.Sprintf("%10s  subscribed, level %s", ms(ev.TimeMs), ev.Level)
	case "level":
		return fmt.Sprintf("%10s  level %s", ms(ev.TimeMs), ev.Level)
	case "unit":
		l := fmt.Sprintf("%10s  unit  %-28s %s", ms(ev.TimeMs), ev.Unit, ev.State)
		if ev.Result != "" {
			l += " (" + ev.Result + ")"
		}
		return l
	}
	return fmt.Sprintf("%10s  %s %s %s %s %s", ms(ev.TimeMs), ev.Kind, ev.Unit, ev.State, ev.Result, ev.Level)
}

var errEnough = errors.New("enough events")

func followCmd(e *env, args []string) error {
	fs := flag.NewFlagSet("follow", flag.ContinueOnError)
	count := fs.Int("count", 0, "stop after N events (not counting the first)")
	pos, err := e.parse(fs, followHelp, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: no arguments expected, got %q", errUsage, pos)
	}
	return follow(e, *count, e.stdout)
}

func follow(e *env, count int, w io.Writer) error {
	n := -1 // the hello is not counted
	dropped := true
	err := ctl.Stream(e.ctx, e.socket, ctl.Request{Verb: "events"}, func(r ctl.Response) error {
		if r.Event == nil {
			return nil
		}
		fmt.Fprintln(w, formatEvent(*r.Event))
		if n++; count > 0 && n >= count {
			dropped = false
			return errEnough
		}
		return nil
	})
	switch {
	case errors.Is(err, errEnough):
		return nil
	case err != nil:
		return reach(e.socket, err)
	case e.ctx.Err() != nil: // Ctrl-C
		return nil
	case dropped:
		return errors.New("the init ended the stream (this reader fell behind, or the init is going down)")
	}
	return nil
}
