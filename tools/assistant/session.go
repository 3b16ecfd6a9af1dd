package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/genai-os/genai-build/tools/genai"
)

// maxTurns bounds the tool-call rounds of one question: a model that keeps calling tools is
// stopped rather than looped forever.
const maxTurns = 8

// session is one conversation.
type session struct {
	chat     chatter
	sys      *system
	out      io.Writer // the answer, streamed
	errw     io.Writer // tool calls, prompts, notes
	confirm  func(question string) bool
	useTools bool
	messages []genai.Message
}

// ask puts one question, runs the tool calls the model asks for, and streams its answer to out.
func (s *session) ask(ctx context.Context, question string) error {
	s.messages = append(s.messages, genai.Message{Role: "user", Content: question})
	for turn := 0; turn < maxTurns; turn++ {
		var tools []genai.Tool
		if s.useTools {
			tools = toolDefs
		}
		wrote := false
		r, err := s.chat.Chat(ctx, s.messages, tools, func(d string) { wrote = true; io.WriteString(s.out, d) })
		if errors.Is(err, genai.ErrToolsUnsupported) {
			fmt.Fprintf(s.errw, "[%v; asking without tools, so the answer cannot use this system's state]\n", err)
			s.useTools = false
			turn--
			continue
		}
		if err != nil {
			if wrote {
				fmt.Fprintln(s.out)
			}
			return err
		}
		s.messages = append(s.messages, r.Message)
		if len(r.Message.ToolCalls) == 0 {
			if wrote && !strings.HasSuffix(r.Message.Content, "\n") {
				fmt.Fprintln(s.out)
			}
			if r.FinishReason == "length" {
				fmt.Fprintln(s.errw, "[the answer was cut at the model's length limit]")
			}
			return nil
		}
		if wrote {
			fmt.Fprintln(s.out)
		}
		for _, tc := range r.Message.ToolCalls {
			fmt.Fprintf(s.errw, "[tool %s %s]\n", tc.Function.Name, tc.Function.Arguments)
			result := s.call(ctx, tc.Function.Name, tc.Function.Arguments)
			s.messages = append(s.messages, genai.Message{Role: "tool", ToolCallID: tc.ID, Name: tc.Function.Name, Content: result})
		}
	}
	return fmt.Errorf("the model asked for tools %d times without answering; stopped", maxTurns)
}

// call runs one tool and returns what the model reads: the result, or the error as text.
func (s *session) call(ctx context.Context, name, arguments string) string {
	var a args
	if err := json.Unmarshal([]byte(arguments), &a); err != nil {
		return fmt.Sprintf("error: the arguments are not a JSON object: %v", err)
	}
	t, ok := toolFuncs[name]
	if !ok {
		return fmt.Sprintf("error: no tool %q", name)
	}
	if t.action != "" {
		what := t.action + " " + a.Unit
		if t.action == "set the level to" {
			what = t.action + " " + a.Level
		}
		if !s.confirm(strings.TrimSpace("Allow the assistant to " + what)) {
			return "refused: the user did not allow " + strings.TrimSpace(what) + "; nothing was changed"
		}
	}
	out, err := t.run(ctx, s.sys, a)
	if err != nil {
		return "error: " + err.Error()
	}
	return out
}
