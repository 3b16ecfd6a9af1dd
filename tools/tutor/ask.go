package tutor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Asker answers a learner's free question with the lesson as context. tools/genai (the
// assistant's client of the OpenAI-compatible chat API, which reads /etc/genai/assistant.conf,
// then GENAI_ENDPOINT, GENAI_MODEL, GENAI_API_KEY) provides one; the tutor depends only on this.
type Asker interface {
	// Ask streams the answer to question, given the system prompt, to w.
	Ask(ctx context.Context, system, question string, w io.Writer) error
}

// ErrNoEndpoint: no assistant endpoint is configured; NoEndpointHelp says how to set one.
var ErrNoEndpoint = errors.New("no assistant endpoint configured")

// NoEndpointHelp is what `?` prints without an endpoint.
const NoEndpointHelp = `No assistant endpoint is set, so questions cannot be answered here (the lessons and checks work without one).
Set one (any OpenAI-compatible server: Ollama, llama.cpp's server, vLLM, a hosted service):
  in /etc/genai/assistant.conf:   endpoint = http://HOST:11434/v1
                                  model = llama3.2
  or for this shell:              export GENAI_ENDPOINT=http://HOST:11434/v1 GENAI_MODEL=llama3.2
  (a key, if the server wants one: api_key_file = PATH, or GENAI_API_KEY)`

// systemPrompt gives the assistant the lesson and the step in hand.
func systemPrompt(l *Lesson, step int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are the tutor of GenAI OS, a Linux distribution with its own init (consciousness-init, "+
		"units under /etc/consciousness/services, controlled with consciousness-manager) and consciousness levels. "+
		"Answer the learner's question briefly, for a terminal, about the lesson below; the learner is at step %d.\n\n", step+1)
	fmt.Fprintf(&b, "# %s\n\n%s\n", l.Title, l.Intro)
	for i, s := range l.Steps {
		fmt.Fprintf(&b, "\n## Step %d: %s\n\n%s\n", i+1, s.Title, s.Body)
		for _, c := range s.Checks {
			fmt.Fprintf(&b, "(checked by the tutor: %s)\n", c)
		}
	}
	return b.String()
}
