package tutor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"
)

const usage = `usage: educational-tutor [--lessons DIR] COMMAND [ARGS]

Lessons about GenAI OS in the terminal. Each step asks you to do something on this system
and checks that it was done (through the init and the file system). Progress is kept in
$XDG_STATE_HOME/genai-tutor/progress.json (default ~/.local/state/genai-tutor/).

commands:
  list              the lessons, with your progress
  start [LESSON]    start or resume a lesson (default: the one in hand, else the next not done)
  check             check the step in hand again; on success, go on to the next
  reset [LESSON]    forget the progress of one lesson, or of all

at the tutor> prompt:
  Enter             check the step (or go on, when there is nothing to do)
  ! COMMAND         run a shell command (as you)
  ? QUESTION        ask the assistant, with the lesson as context (needs an endpoint)
  show, hint, quit

flags:
  --lessons DIR     read lessons from DIR (default /usr/share/genai/tutor; or $GENAI_TUTOR_LESSONS)

examples:
  educational-tutor list
  educational-tutor start levels
  sudo consciousness-manager level 0.9 && educational-tutor check
  educational-tutor reset levels

Lessons are Markdown files with a small header; see educational-tutor(1) to write one.`

// Options are the tutor's outside inputs; Main fills them from the system.
type Options struct {
	Dir      string
	Init     Init
	Getenv   func(string) string
	NewAsker func() (Asker, error) // nil or ErrNoEndpoint: questions print NoEndpointHelp
	Shell    string                // for "! COMMAND"; default /bin/sh
}

// NewAsker makes the assistant client for questions; cmd/genai-tools wires it to tools/genai.
var NewAsker func() (Asker, error)

// Main is educational-tutor's entry point (cmd/genai-tools registers it).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := Options{Dir: os.Getenv("GENAI_TUTOR_LESSONS"), Init: DefaultInit(), Getenv: os.Getenv, NewAsker: NewAsker}
	return Run(context.Background(), o, args, stdin, stdout, stderr)
}

// Run runs one command; it returns the exit status (0 ok, 1 a check not passed, 2 usage or error).
func Run(ctx context.Context, o Options, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "help":
			fmt.Fprintln(stdout, usage)
			return 0
		case a == "--lessons" && i+1 < len(args):
			o.Dir = args[i+1]
			i++
		case strings.HasPrefix(a, "--lessons="):
			o.Dir = strings.TrimPrefix(a, "--lessons=")
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "educational-tutor: unknown flag %s\n%s\n", a, usage)
			return 2
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	t, err := open(o)
	if err != nil {
		fmt.Fprintf(stderr, "educational-tutor: %v\n", err)
		return 2
	}
	t.out, t.errw = stdout, stderr
	cmd, cargs := rest[0], rest[1:]
	var code int
	switch {
	case cmd == "list" && len(cargs) == 0:
		code = t.list()
	case cmd == "start" && len(cargs) <= 1:
		code = t.start(ctx, cargs, stdin)
	case cmd == "check" && len(cargs) == 0:
		code = t.checkCmd(ctx)
	case cmd == "reset" && len(cargs) <= 1:
		code = t.reset(cargs)
	default:
		fmt.Fprintf(stderr, "educational-tutor: %s: unknown command or wrong arguments\n%s\n", strings.Join(rest, " "), usage)
		return 2
	}
	return code
}

type tutor struct {
	o         Options
	lessons   []*Lesson
	prog      *Progress
	progPath  string
	out, errw io.Writer
}

func open(o Options) (*tutor, error) {
	ls, err := LoadDir(o.Dir)
	if err != nil {
		return nil, err
	}
	path, err := ProgressPath(o.Getenv)
	if err != nil {
		return nil, err
	}
	p, err := LoadProgress(path)
	if err != nil {
		return nil, err
	}
	return &tutor{o: o, lessons: ls, prog: p, progPath: path}, nil
}

func (t *tutor) lesson(id string) *Lesson {
	for _, l := range t.lessons {
		if l.ID == id {
			return l
		}
	}
	return nil
}

func (t *tutor) fail(err error) int {
	fmt.Fprintf(t.errw, "educational-tutor: %v\n", err)
	return 2
}

func (t *tutor) save() int {
	if err := t.prog.Save(t.progPath); err != nil {
		return t.fail(err)
	}
	return 0
}

func (t *tutor) list() int {
	tw := tabwriter.NewWriter(t.out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  LESSON\tTITLE\tSTEPS\tPROGRESS")
	for _, l := range t.lessons {
		p, started := t.prog.Lessons[l.ID]
		status := "-"
		switch {
		case p.Done:
			status = "done"
		case started:
			status = fmt.Sprintf("at step %d", p.Step+1)
		}
		mark := " "
		if t.prog.Current == l.ID {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%d\t%s\n", mark, l.ID, l.Title, len(l.Steps), status)
	}
	tw.Flush()
	fmt.Fprintln(t.out, "\nstart one with: educational-tutor start LESSON")
	return 0
}

func (t *tutor) reset(args []string) int {
	if len(args) == 1 {
		if t.lesson(args[0]) == nil {
			return t.fail(fmt.Errorf("no lesson %q (educational-tutor list)", args[0]))
		}
		delete(t.prog.Lessons, args[0])
		if t.prog.Current == args[0] {
			t.prog.Current = ""
		}
		fmt.Fprintf(t.out, "progress of %s forgotten\n", args[0])
	} else {
		t.prog = &Progress{Lessons: map[string]LessonProgress{}}
		fmt.Fprintln(t.out, "all progress forgotten")
	}
	return t.save()
}

// pick is the lesson to start: the named one, the one in hand, or the first not done.
func (t *tutor) pick(args []string) (*Lesson, error) {
	if len(args) == 1 {
		if l := t.lesson(args[0]); l != nil {
			return l, nil
		}
		return nil, fmt.Errorf("no lesson %q (educational-tutor list)", args[0])
	}
	if l := t.lesson(t.prog.Current); l != nil && !t.prog.Lessons[l.ID].Done {
		return l, nil
	}
	for _, l := range t.lessons {
		if !t.prog.Lessons[l.ID].Done {
			return l, nil
		}
	}
	return nil, errors.New("every lesson is done (educational-tutor reset LESSON to do one again)")
}

func (t *tutor) showStep(l *Lesson, i int) {
	s := l.Steps[i]
	fmt.Fprintf(t.out, "\n== %s (%s), step %d/%d: %s ==\n\n", l.Title, l.ID, i+1, len(l.Steps), s.Title)
	if s.Body != "" {
		fmt.Fprintf(t.out, "%s\n\n", s.Body)
	}
	if len(s.Checks) > 0 {
		fmt.Fprintln(t.out, "[Enter checks it; ! runs a command, ? asks a question, q quits]")
	} else {
		fmt.Fprintln(t.out, "[Enter goes on; ? asks a question, q quits]")
	}
}

// checkStep runs the step's checks, prints each, and says whether all passed.
func (t *tutor) checkStep(ctx context.Context, l *Lesson, i int) bool {
	s := l.Steps[i]
	env := Env{Init: t.o.Init, Home: t.o.Getenv("HOME")}
	ok := true
	for _, c := range s.Checks {
		if err := env.Run(ctx, c); err != nil {
			ok = false
			fmt.Fprintf(t.out, "  not yet: %v\n", err)
		} else {
			fmt.Fprintf(t.out, "  ok: %s\n", c)
		}
	}
	if !ok && s.Hint != "" {
		fmt.Fprintf(t.out, "  hint: %s\n", s.Hint)
	}
	return ok
}

// advance moves past step i; it says whether the lesson goes on.
func (t *tutor) advance(l *Lesson, i int) bool {
	p := LessonProgress{Step: i + 1}
	if p.Step >= len(l.Steps) {
		p = LessonProgress{Step: len(l.Steps) - 1, Done: true}
	}
	t.prog.Lessons[l.ID] = p
	t.prog.Current = l.ID
	if p.Done {
		fmt.Fprintf(t.out, "\nLesson %q done. Next: educational-tutor list\n", l.Title)
		return false
	}
	t.showStep(l, p.Step)
	return true
}

func (t *tutor) checkCmd(ctx context.Context) int {
	l := t.lesson(t.prog.Current)
	if l == nil {
		return t.fail(errors.New("no lesson in hand: educational-tutor start [LESSON]"))
	}
	p := t.prog.Lessons[l.ID]
	if p.Done {
		fmt.Fprintf(t.out, "Lesson %q is done. Next: educational-tutor list\n", l.Title)
		return 0
	}
	fmt.Fprintf(t.out, "%s, step %d/%d: %s\n", l.ID, p.Step+1, len(l.Steps), l.Steps[p.Step].Title)
	if !t.checkStep(ctx, l, p.Step) {
		return 1
	}
	t.advance(l, p.Step)
	return t.save()
}

func (t *tutor) start(ctx context.Context, args []string, stdin io.Reader) int {
	l, err := t.pick(args)
	if err != nil {
		return t.fail(err)
	}
	p, started := t.prog.Lessons[l.ID]
	if p.Done {
		p = LessonProgress{} // starting a done lesson again
		started = false
	}
	t.prog.Current = l.ID
	t.prog.Lessons[l.ID] = p
	if code := t.save(); code != 0 {
		return code
	}
	if !started || p.Step == 0 {
		fmt.Fprintf(t.out, "# %s\n\n%s\n", l.Title, l.Intro)
	} else {
		fmt.Fprintf(t.out, "Resuming %q at step %d.\n", l.Title, p.Step+1)
	}
	t.showStep(l, p.Step)
	in := bufio.NewScanner(stdin)
	for {
		fmt.Fprint(t.out, "tutor> ")
		if !in.Scan() {
			fmt.Fprintln(t.out, "\nProgress saved; educational-tutor start resumes here.")
			return t.save()
		}
		line := strings.TrimSpace(in.Text())
		i := t.prog.Lessons[l.ID].Step
		s := l.Steps[i]
		switch {
		case line == "" || line == "check" || line == "c" || line == "next" || line == "n":
			if len(s.Checks) > 0 && !t.checkStep(ctx, l, i) {
				continue
			}
			more := t.advance(l, i)
			if code := t.save(); code != 0 {
				return code
			}
			if !more {
				return 0
			}
		case line == "q" || line == "quit" || line == "exit":
			fmt.Fprintln(t.out, "Progress saved; educational-tutor start resumes here.")
			return t.save()
		case line == "show" || line == "s":
			t.showStep(l, i)
		case line == "hint" || line == "h":
			if s.Hint == "" {
				fmt.Fprintln(t.out, "No hint for this step; reread it with show, or ask with ? QUESTION.")
			} else {
				fmt.Fprintf(t.out, "hint: %s\n", s.Hint)
			}
		case strings.HasPrefix(line, "!"):
			t.shell(ctx, strings.TrimSpace(line[1:]))
		case strings.HasPrefix(line, "?"):
			t.ask(ctx, l, i, strings.TrimSpace(line[1:]))
		default:
			fmt.Fprintln(t.out, "Enter checks the step; ! COMMAND runs a command, ? QUESTION asks, show, hint, q quits.")
		}
	}
}

func (t *tutor) shell(ctx context.Context, command string) {
	if command == "" {
		fmt.Fprintln(t.out, "! COMMAND runs COMMAND, e.g. ! sudo consciousness-manager status")
		return
	}
	sh := t.o.Shell
	if sh == "" {
		sh = "/bin/sh"
	}
	cmd := exec.CommandContext(ctx, sh, "-c", command)
	cmd.Stdout, cmd.Stderr = t.out, t.out
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(t.out, "(%v)\n", err)
	}
}

func (t *tutor) ask(ctx context.Context, l *Lesson, step int, q string) {
	if q == "" {
		fmt.Fprintln(t.out, "? QUESTION asks the assistant about this lesson.")
		return
	}
	var a Asker
	err := ErrNoEndpoint
	if t.o.NewAsker != nil {
		a, err = t.o.NewAsker()
	}
	if errors.Is(err, ErrNoEndpoint) {
		fmt.Fprintln(t.out, NoEndpointHelp)
		return
	}
	if err != nil {
		fmt.Fprintf(t.out, "assistant: %v\n", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := a.Ask(ctx, systemPrompt(l, step), q, t.out); err != nil {
		fmt.Fprintf(t.out, "\nassistant: %v\n", err)
		return
	}
	fmt.Fprintln(t.out)
}
