// Package genai is a small client of the OpenAI-compatible chat completions API (POST
// {endpoint}/chat/completions) that Ollama, llama.cpp's server, vLLM and hosted services speak:
// streamed answers (server-sent events), function calling, and the differences between those
// servers (no tool_choice, usage reported in different fields, tool calls with or without ids or
// indexes, a stream answered as one JSON body). genai-assistant, educational-tutor and libgenai
// use it. It prints nothing; errors say what happened (*APIError, ErrRefused, ErrTimeout,
// ErrMalformed, ErrToolsUnsupported).
package genai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Message is one chat message (role system, user, assistant or tool).
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`   // assistant: the calls it asks for
	ToolCallID string     `json:"tool_call_id,omitempty"` // tool: which call this answers
	Name       string     `json:"name,omitempty"`         // tool: the function's name (Ollama reads it)
}

// ToolCall is one function call the model asks for; Arguments is a JSON object as text.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and its arguments.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is a function the model may call; Parameters is a JSON Schema object.
type Tool struct {
	Type     string   `json:"type"` // "function"
	Function Function `json:"function"`
}

// Function describes a callable function.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// NewTool is a function tool; params is its JSON Schema (an object schema), "" for none.
func NewTool(name, description, params string) Tool {
	if params == "" {
		params = `{"type":"object","properties":{}}`
	}
	return Tool{Type: "function", Function: Function{Name: name, Description: description, Parameters: json.RawMessage(params)}}
}

// Usage counts tokens, from whichever field the server fills: usage (OpenAI, vLLM, Ollama's
// /v1), timings (llama.cpp), prompt_eval_count/eval_count (Ollama's native fields). Zero when
// the server reports none.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// Reply is the model's answer to one Chat call.
type Reply struct {
	Message      Message // role assistant: the text, and the tool calls it asks for
	FinishReason string  // stop, length, tool_calls; "" when the server sent none
	Usage        Usage
	Model        string // the model the server says answered
}

// Errors a caller may act on (errors.Is).
var (
	// ErrRefused: nothing listens at the endpoint (after the retries); start the server or fix
	// the endpoint.
	ErrRefused = errors.New("connection refused")
	// ErrTimeout: the server accepted but did not answer (or stopped streaming) in time.
	ErrTimeout = errors.New("timed out")
	// ErrMalformed: the answer is not the API's (a bad event, a stream cut before its end).
	ErrMalformed = errors.New("malformed answer")
	// ErrToolsUnsupported: the server or model refused the request because of its tools; ask
	// again without them.
	ErrToolsUnsupported = errors.New("the model does not support tools")
)

// APIError is an HTTP error status with the server's own message.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = " (check the API key: GENAI_API_KEY or api_key_file)"
	case http.StatusNotFound:
		hint = " (check the endpoint, which ends in /v1 for most servers, and the model name)"
	}
	return fmt.Sprintf("server answered %d %s: %s%s", e.Status, http.StatusText(e.Status), msg, hint)
}

// Client talks to one endpoint. Its zero timeouts take the defaults.
type Client struct {
	Config Config
	HTTP   *http.Client // nil: a client with no overall timeout (answers stream for minutes)
	// HeaderTimeout bounds the wait for the answer's start (a local model on a CPU reads the
	// prompt first); IdleTimeout the silence between two events of a stream.
	HeaderTimeout time.Duration // default 120 s
	IdleTimeout   time.Duration // default 120 s
	// Retries is how often a request is sent again when that is safe: the connection was refused
	// before any byte was sent, or the server answered 429 or 503 with a Retry-After header.
	Retries int           // default 3; negative: none
	Backoff time.Duration // first wait between tries, doubled each time; default 500 ms
	// Sleep waits between tries (tests shorten it); nil: a timer honouring ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// New is a Client for cfg with the defaults.
func New(cfg Config) *Client { return &Client{Config: cfg} }

type request struct {
	Model         string         `json:"model,omitempty"`
	Messages      []Message      `json:"messages"`
	Tools         []Tool         `json:"tools,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	// No tool_choice: Ollama and older llama.cpp reject or ignore it, and "auto" is the default.
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Chat sends the conversation and the tools the model may call, streams the answer's text to
// onDelta (nil: not streamed to anyone) as it arrives, and returns the whole reply. A reply with
// Message.ToolCalls asks the caller to run them, append the assistant message and one "tool"
// message per call, and call Chat again.
func (c *Client) Chat(ctx context.Context, messages []Message, tools []Tool, onDelta func(string)) (Reply, error) {
	body, err := json.Marshal(request{Model: c.Config.Model, Messages: messages, Tools: tools, Stream: true,
		StreamOptions: &streamOptions{IncludeUsage: true}})
	if err != nil {
		return Reply{}, err
	}
	url := strings.TrimRight(c.Config.Endpoint, "/") + "/chat/completions"
	resp, err := c.send(ctx, url, body)
	if err != nil {
		if len(tools) > 0 && isToolRefusal(err) {
			return Reply{}, fmt.Errorf("%w: %w", ErrToolsUnsupported, err)
		}
		return Reply{}, err
	}
	defer resp.Body.Close()
	var r Reply
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		// A server that ignores "stream": one completion object.
		err = c.readWhole(resp.Body, &r, onDelta)
	} else {
		err = c.readStream(ctx, resp.Body, &r, onDelta)
	}
	if err != nil {
		return r, err
	}
	r.Message.Role = "assistant"
	if len(tools) > 0 && len(r.Message.ToolCalls) == 0 {
		// A model served without a tool-call parser (llama.cpp without --jinja) writes the call
		// as JSON text; take it as the call it is.
		if tc, ok := textToolCall(r.Message.Content, tools); ok {
			r.Message.ToolCalls, r.Message.Content, r.FinishReason = []ToolCall{tc}, "", "tool_calls"
		}
	}
	for i := range r.Message.ToolCalls {
		tc := &r.Message.ToolCalls[i]
		if tc.ID == "" { // Ollama and some llama.cpp versions send none; the tool message needs one
			tc.ID = "call_" + strconv.Itoa(i)
		}
		tc.Type = "function"
		if strings.TrimSpace(tc.Function.Arguments) == "" {
			tc.Function.Arguments = "{}"
		}
	}
	return r, nil
}

// send posts body, retrying where that is safe, and returns a 2xx response.
func (c *Client) send(ctx context.Context, url string, body []byte) (*http.Response, error) {
	retries := c.Retries
	if retries == 0 {
		retries = 3
	}
	backoff := or(c.Backoff, 500*time.Millisecond)
	for try := 0; ; try++ {
		resp, err := c.post(ctx, url, body)
		var wait time.Duration
		switch {
		case err == nil && resp.StatusCode/100 == 2:
			return resp, nil
		case err == nil:
			apiErr := readAPIError(resp)
			ra := retryAfter(resp.Header.Get("Retry-After"))
			if (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) || ra < 0 {
				return nil, apiErr
			}
			err, wait = apiErr, max(ra, backoff)
		case errors.Is(err, ErrRefused):
			wait = backoff
		default:
			return nil, err
		}
		if try >= retries {
			if try > 0 {
				return nil, fmt.Errorf("%w (after %d tries)", err, try+1)
			}
			return nil, err
		}
		sleep := c.Sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if serr := sleep(ctx, min(wait, 30*time.Second)); serr != nil {
			return nil, err
		}
		backoff *= 2
	}
}

func (c *Client) post(ctx context.Context, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", c.Config.Endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.Config.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.Config.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: or(c.HeaderTimeout, 120*time.Second),
		}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%s: %w (is the server running and listening there?)", url, ErrRefused)
		case isTimeout(err):
			return nil, fmt.Errorf("%s: no answer within %s: %w", url, or(c.HeaderTimeout, 120*time.Second), ErrTimeout)
		}
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return resp, nil
}

// readAPIError reads an error body in any of the shapes servers use: {"error":{"message":..}}
// (OpenAI, llama.cpp, vLLM), {"error":"..."} (Ollama), {"detail":..} or plain text.
func readAPIError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &APIError{Status: resp.StatusCode}
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  any             `json:"detail"`
	}
	if json.Unmarshal(b, &v) == nil {
		var s string
		var o struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(v.Error, &o) == nil && o.Message != "":
			e.Message = o.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			e.Message = s
		case v.Message != "":
			e.Message = v.Message
		case v.Detail != nil:
			e.Message = fmt.Sprint(v.Detail)
		}
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "..."
		}
	}
	return e
}

// retryAfter parses a Retry-After header (RFC 9110 section 10.2.3: seconds or an HTTP date);
// -1 when absent or unreadable.
func retryAfter(h string) time.Duration {
	if h == "" {
		return -1
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// chunk is one streamed event, or (readWhole) a whole completion.
type chunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Delta        *delta  `json:"delta"`
		Message      *delta  `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Timings *struct { // llama.cpp
		PromptN    int `json:"prompt_n"`
		PredictedN int `json:"predicted_n"`
	} `json:"timings"`
	PromptEvalCount int             `json:"prompt_eval_count"` // Ollama's native names
	EvalCount       int             `json:"eval_count"`
	Error           json.RawMessage `json:"error"` // an error sent inside the stream
}

type delta struct {
	Content   *string `json:"content"`
	ToolCalls []struct {
		Index    *int   `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// apply folds one chunk into r.
func (ch *chunk) apply(r *Reply, onDelta func(string)) error {
	if len(ch.Error) > 0 && string(ch.Error) != "null" {
		var o struct {
			Message string `json:"message"`
		}
		msg := string(ch.Error)
		if json.Unmarshal(ch.Error, &o) == nil && o.Message != "" {
			msg = o.Message
		}
		return fmt.Errorf("server reported an error in the stream: %s", msg)
	}
	if ch.Model != "" {
		r.Model = ch.Model
	}
	switch {
	case ch.Usage != nil && (ch.Usage.PromptTokens > 0 || ch.Usage.CompletionTokens > 0):
		r.Usage = Usage{ch.Usage.PromptTokens, ch.Usage.CompletionTokens}
	case ch.Timings != nil && r.Usage == (Usage{}):
		r.Usage = Usage{ch.Timings.PromptN, ch.Timings.PredictedN}
	case ch.PromptEvalCount > 0 || ch.EvalCount > 0:
		r.Usage = Usage{ch.PromptEvalCount, ch.EvalCount}
	}
	for _, c := range ch.Choices {
		d := c.Delta
		if d == nil {
			d = c.Message
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			r.FinishReason = *c.FinishReason
		}
		if d == nil {
			continue
		}
		if d.Content != nil && *d.Content != "" {
			r.Message.Content += *d.Content
			if onDelta != nil {
				onDelta(*d.Content)
			}
		}
		for _, tc := range d.ToolCalls {
			calls := &r.Message.ToolCalls
			// Which call this fragment continues: by index when sent; else a new id or a new
			// name starts a call, and a bare fragment continues the last one.
			i := -1
			switch {
			case tc.Index != nil:
				i = *tc.Index
				for len(*calls) <= i {
					*calls = append(*calls, ToolCall{})
				}
			case len(*calls) > 0 && (tc.ID == "" || tc.ID == (*calls)[len(*calls)-1].ID) && tc.Function.Name == "":
				i = len(*calls) - 1
			default:
				*calls = append(*calls, ToolCall{})
				i = len(*calls) - 1
			}
			call := &(*calls)[i]
			if tc.ID != "" {
				call.ID = tc.ID
			}
			call.Function.Name += tc.Function.Name
			call.Function.Arguments += tc.Function.Arguments
		}
	}
	return nil
}

// readStream reads server-sent events (WHATWG HTML, "Server-sent events": lines "data: ...",
// events ended by a blank line, ":" comments) until "data: [DONE]".
func (c *Client) readStream(ctx context.Context, body io.ReadCloser, r *Reply, onDelta func(string)) error {
	idle := or(c.IdleTimeout, 120*time.Second)
	timer := time.AfterFunc(idle, func() { body.Close() })
	defer timer.Stop()
	timedOut := func() bool { return !timer.Stop() }
	br := bufio.NewReaderSize(body, 64<<10)
	var data []string
	events := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil && line == "" {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case timedOut():
				return fmt.Errorf("the stream stopped: nothing for %s: %w", idle, ErrTimeout)
			case errors.Is(err, io.EOF) && r.FinishReason != "":
				return nil // ended without [DONE] but with a finish reason: complete
			case errors.Is(err, io.EOF):
				return fmt.Errorf("%w: the stream ended before its end (no [DONE], no finish_reason) after %d events", ErrMalformed, events)
			}
			return fmt.Errorf("reading the stream: %w", err)
		}
		timer.Reset(idle)
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if len(data) == 0 {
				continue
			}
			payload := strings.Join(data, "\n")
			data = data[:0]
			if strings.TrimSpace(payload) == "[DONE]" {
				return nil
			}
			var ch chunk
			if err := json.Unmarshal([]byte(payload), &ch); err != nil {
				return fmt.Errorf("%w: event %d is not JSON (%v): %.200q", ErrMalformed, events+1, err, payload)
			}
			events++
			if err := ch.apply(r, onDelta); err != nil {
				return err
			}
		case strings.HasPrefix(line, ":"): // comment, keep-alive
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		case strings.HasPrefix(line, "event:"), strings.HasPrefix(line, "id:"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "{") && len(data) == 0 && events == 0:
			// An error object written as plain JSON in place of a stream.
			var ch chunk
			if json.Unmarshal([]byte(line), &ch) == nil && len(ch.Error) > 0 {
				return ch.apply(r, onDelta)
			}
			return fmt.Errorf("%w: expected server-sent events, got %.200q", ErrMalformed, line)
		default:
			return fmt.Errorf("%w: unexpected line in the event stream: %.200q", ErrMalformed, line)
		}
	}
}

// readWhole reads a non-streamed completion object.
func (c *Client) readWhole(body io.Reader, r *Reply, onDelta func(string)) error {
	var ch chunk
	if err := json.NewDecoder(io.LimitReader(body, 16<<20)).Decode(&ch); err != nil {
		return fmt.Errorf("%w: the answer is not a completion object: %v", ErrMalformed, err)
	}
	if len(ch.Choices) == 0 && len(ch.Error) == 0 {
		return fmt.Errorf("%w: the answer has no choices", ErrMalformed)
	}
	return ch.apply(r, onDelta)
}

// textToolCall recognises a tool call the model wrote as its text: {"name": N, "arguments"|
// "parameters": {...}} with N one of tools.
func textToolCall(content string, tools []Tool) (ToolCall, bool) {
	s := strings.TrimSpace(content)
	s = strings.TrimPrefix(strings.TrimSuffix(s, "```"), "```json")
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		return ToolCall{}, false
	}
	var v struct {
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if json.Unmarshal([]byte(s), &v) != nil {
		return ToolCall{}, false
	}
	for _, t := range tools {
		if t.Function.Name == v.Name {
			args := v.Arguments
			if len(args) == 0 {
				args = v.Parameters
			}
			if len(args) == 0 {
				args = json.RawMessage("{}")
			}
			return ToolCall{Type: "function", Function: FunctionCall{Name: v.Name, Arguments: string(args)}}, true
		}
	}
	return ToolCall{}, false
}

// isToolRefusal tells a 4xx caused by the request's tools (Ollama: "... does not support
// tools"; llama.cpp without --jinja: "tools param requires --jinja flag").
func isToolRefusal(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status/100 == 4 && strings.Contains(strings.ToLower(e.Message), "tool")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
