// Package assistant is genai-assistant: questions about the running system answered by a model
// behind an OpenAI-compatible endpoint (tools/genai), which reads the init's state over its
// control socket through tool calls, and changes it only with the user's yes.
package assistant

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/term"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/tools/genai"
)

const usage = `usage: genai-assistant [FLAGS] [QUESTION...]

Asks the model at the configured OpenAI-compatible endpoint about this system. The model reads
services, logs, the boot timeline and the consciousness level through the init's control socket;
it may start, stop or restart a service or set the level only after you answer yes (or --yes).

With a question (as arguments, or on stdin when it is not a terminal) it answers once. With none
on a terminal it starts a session that keeps the conversation: a line ending in \ continues on the
next line; an empty line, "exit" or Ctrl-D ends the session.

The endpoint comes from /etc/genai/assistant.conf (endpoint = URL, model = NAME,
api_key_file = PATH), then GENAI_ENDPOINT, GENAI_MODEL, GENAI_API_KEY, then the flags.

Flags:
  --endpoint URL       the API's base URL, e.g. http://localhost:11434/v1
  --model NAME         the model to ask
  --api-key-file PATH  a file holding the API key
  --config PATH        the config file (default /etc/genai/assistant.conf)
  --socket PATH        the init's control socket (default /run/consciousness/control.sock)
  --yes                allow actions without asking
  --no-tools           ask without tools (for models that cannot call them)

Examples:
  genai-assistant "why did sshd restart?"
  echo "which services failed?" | genai-assistant
  genai-assistant --yes "restart sshd"
  GENAI_ENDPOINT=http://10.0.2.2:11434/v1 GENAI_MODEL=qwen2.5:3b genai-assistant
`

const noEndpoint = `genai-assistant: no assistant endpoint configured. Set one of:
  - /etc/genai/assistant.conf:  endpoint = http://HOST:11434/v1   (and model = NAME)
  - the environment:            GENAI_ENDPOINT=http://HOST:11434/v1 GENAI_MODEL=NAME
  - the flag:                   genai-assistant --endpoint http://HOST:11434/v1 --model NAME
  - at build time:              genai-build iso --assistant-endpoint http://HOST:11434/v1 --assistant-model NAME
Any OpenAI-compatible server works: Ollama, llama.cpp's llama-server, vLLM, a hosted API.
`

// Main is the command; it returns the exit status: 0 answered, 1 an error, 2 a usage error or
// no endpoint.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return run(ctx, args, stdin, stdout, stderr, os.Getenv)
}

// chatter is what the session needs of a client (a *genai.Client).
type chatter interface {
	Chat(ctx context.Context, messages []genai.Message, tools []genai.Tool, onDelta func(string)) (genai.Reply, error)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("genai-assistant", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	endpoint := fs.String("endpoint", "", "")
	model := fs.String("model", "", "")
	keyFile := fs.String("api-key-file", "", "")
	config := fs.String("config", genai.DefaultConfigFile, "")
	socket := fs.String("socket", ctl.DefaultSocket, "")
	yes := fs.Bool("yes", false, "")
	noTools := fs.Bool("no-tools", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "genai-assistant: %v\n\n%s", err, usage)
		return 2
	}
	cfg, err := genai.LoadConfig(*config, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "genai-assistant: %v\n", err)
		return 1
	}
	if *endpoint != "" {
		cfg.Endpoint = *endpoint
	}
	if *model != "" {
		cfg.Model = *model
	}
	if *keyFile != "" {
		cfg.APIKey, cfg.APIKeyFile = "", *keyFile
	}
	if err := cfg.Resolve(); errors.Is(err, genai.ErrNoEndpoint) {
		io.WriteString(stderr, noEndpoint)
		return 2
	} else if err != nil {
		fmt.Fprintf(stderr, "genai-assistant: %v\n", err)
		return 2
	}
	tty := isTerminal(stdin)
	in := bufio.NewReader(stdin)
	s := &session{chat: genai.New(cfg), sys: &system{socket: *socket}, out: stdout, errw: stderr, useTools: !*noTools}
	s.confirm = func(q string) bool {
		if *yes {
			fmt.Fprintf(stderr, "[%s: yes (--yes)]\n", q)
			return true
		}
		if !tty {
			fmt.Fprintf(stderr, "[%s: refused: no terminal to ask on; run with --yes to allow]\n", q)
			return false
		}
		fmt.Fprintf(stderr, "%s? [y/N] ", q)
		line, _ := in.ReadString('\n')
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes"
	}
	s.messages = []genai.Message{{Role: "system", Content: systemPrompt()}}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if question == "" && !tty {
		b, err := io.ReadAll(in)
		if err != nil {
			fmt.Fprintf(stderr, "genai-assistant: reading stdin: %v\n", err)
			return 1
		}
		question = strings.TrimSpace(string(b))
		if question == "" {
			fmt.Fprintf(stderr, "genai-assistant: no question (give it as arguments or on stdin)\n\n%s", usage)
			return 2
		}
	}
	if question != "" {
		if err := s.ask(ctx, question); err != nil {
			fmt.Fprintf(stderr, "genai-assistant: %v\n", err)
			return 1
		}
		return 0
	}
	return s.interactive(ctx, in)
}

// interactive reads questions until an empty line, "exit" or end of input; a line ending in \
// continues on the next. The conversation is kept between questions.
func (s *session) interactive(ctx context.Context, in *bufio.Reader) int {
	fmt.Fprintf(s.errw, "genai-assistant: ask about this system; a line ending in \\ continues, an empty line or Ctrl-D ends.\n")
	for {
		var parts []string
		prompt := "> "
		for {
			fmt.Fprint(s.errw, prompt)
			line, err := in.ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			if strings.HasSuffix(line, `\`) && err == nil {
				parts = append(parts, strings.TrimSuffix(line, `\`))
				prompt = ". "
				continue
			}
			parts = append(parts, line)
			if err != nil && strings.TrimSpace(strings.Join(parts, "")) == "" {
				fmt.Fprintln(s.errw)
				return 0
			}
			break
		}
		q := strings.TrimSpace(strings.Join(parts, "\n"))
		if q == "" || q == "exit" || q == "quit" {
			return 0
		}
		if err := s.ask(ctx, q); err != nil {
			fmt.Fprintf(s.errw, "genai-assistant: %v\n", err)
			if ctx.Err() != nil {
				return 1
			}
		}
	}
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func systemPrompt() string {
	name := "GenAI OS"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				name = strings.Trim(v, `"`)
			}
		}
	}
	host, _ := os.Hostname()
	return fmt.Sprintf(`You are genai-assistant, running on %s (host %s). Its init, consciousness-init, runs services (units) and a consciousness level between 0.0 and 1.0 that gates which services run; consciousness-manager is its command-line client.
Answer questions about this system from its real state: call the tools to read services, logs, the boot timeline and the level rather than guessing. Actions (start, stop, restart, set level) ask the user first; if one is refused, say so and do not retry it.
Answer briefly, in plain text.`, name, host)
}
