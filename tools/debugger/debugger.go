// Package debugger is consciousness-debugger: it diagnoses the boot and the services from the
// init's own data, read over its control socket (initramfs/ctl): the boot timeline, the
// dependency graph, the crash history, why a unit is not running, and the live events.
package debugger

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/ctl"
)

const usage = `usage: consciousness-debugger [--socket PATH] COMMAND [ARGS]

Diagnoses the boot and the services from the init's data (its control socket,
/run/consciousness/control.sock: root or group consciousness).

commands:
  timeline [--svg FILE]   the boot timeline as a Gantt chart: the init's phases, each unit's start to ready
  graph [--dot]           the dependency graph: Requires=, Wants=, socket triggers (After= as notes)
  crashes [UNIT]          each unit's recent exits: time, exit code or signal, restarted or not, last log lines
  why UNIT                why a unit is not running: level gate, failed dependency, burst limit, ...
  follow [--count N]      live events (unit state and level changes), one line each, until Ctrl-C

examples:
  consciousness-debugger timeline
  consciousness-debugger timeline --svg /tmp/boot.svg
  consciousness-debugger graph --dot | dot -Tpng > graph.png
  consciousness-debugger crashes sshd
  consciousness-debugger why gated.service
  consciousness-debugger follow

Run "consciousness-debugger COMMAND --help" for a command's own help.
`

// commands are the subcommands: each gets its arguments and the environment.
var commands = map[string]func(e *env, args []string) error{
	"timeline": timelineCmd,
	"graph":    graphCmd,
	"crashes":  crashesCmd,
	"why":      whyCmd,
	"follow":   followCmd,
}

// env is what a command runs with.
type env struct {
	ctx    context.Context
	socket string
	stdout io.Writer
	stderr io.Writer
}

// errUsage: the command line was wrong; its message is printed with the usage hint.
var errUsage = errors.New("usage")

// Main runs consciousness-debugger with args (without the command's name) and returns its exit
// status: 0 done, 1 an error, 2 a wrong command line.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("consciousness-debugger", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", ctl.DefaultSocket, "the init's control socket")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "consciousness-debugger: %v\n%s", err, usage)
		return 2
	}
	if fs.NArg() == 0 || fs.Arg(0) == "help" {
		if fs.NArg() == 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	name := fs.Arg(0)
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "consciousness-debugger: no command %q\n%s", name, usage)
		return 2
	}
	e := &env{ctx: ctx, socket: *socket, stdout: stdout, stderr: stderr}
	err := cmd(e, fs.Args()[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "consciousness-debugger %s: %v\n", name, err)
		return 2
	}
	fmt.Fprintf(stderr, "consciousness-debugger %s: %v\n", name, err)
	return 1
}

// parse reads a command's flags wherever they stand among its arguments; --help prints help.
func (e *env) parse(fs *flag.FlagSet, help string, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(e.stdout, help)
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v\n%s", errUsage, err, help)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// call asks the init one question, and says in a person's words why it cannot be asked.
func (e *env) call(req ctl.Request) (ctl.Response, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	r, err := ctl.Call(ctx, e.socket, req, nil)
	if err != nil {
		return r, reach(e.socket, err)
	}
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	return r, nil
}

// reach explains a failure to connect to the control socket.
func reach(socket string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no control socket at %s: the init (consciousness-init) is not running on this system, or this is not GenAI OS", socket)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("permission denied on %s: run as root or as a member of group consciousness", socket)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing listens on %s: the init is not running or is going down", socket)
	}
	return fmt.Errorf("the init at %s: %w", socket, err)
}

// normalize adds ".service" to a bare name, as consciousness-manager does.
func normalize(name string) string {
	if !strings.Contains(name, ".") {
		return name + ".service"
	}
	return name
}
