package genai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sse writes events as a server of the published API does.
func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		fmt.Fprintf(w, "data: %s\n\n", e)
		w.(http.Flusher).Flush()
	}
}

func client(url string) *Client {
	return &Client{Config: Config{Endpoint: url + "/v1", Model: "m"}, Backoff: time.Millisecond}
}

func TestStream(t *testing.T) {
	var got request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "wrong path or key", 400)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": keep-alive\n\n")
		sse(w, `{"model":"m","choices":[{"delta":{"role":"assistant","content":"Hel"}}]}`,
			`{"choices":[{"delta":{"content":"lo"}}]}`,
			`{"choices":[{"delta":{},"finish_reason":"stop"}]}`,
			`{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}`, "[DONE]")
	}))
	defer srv.Close()
	c := client(srv.URL)
	c.Config.APIKey = "k"
	var deltas []string
	r, err := c.Chat(context.Background(), []Message{{Role: "user", Content: "hi"}}, nil, func(s string) { deltas = append(deltas, s) })
	if err != nil {
		t.Fatal(err)
	}
	if r.Message.Content != "Hello" || strings.Join(deltas, "|") != "Hel|lo" || r.FinishReason != "stop" || r.Usage != (Usage{7, 2}) {
		t.Errorf("reply %+v, deltas %q", r, deltas)
	}
	if !got.Stream || got.Model != "m" || len(got.Messages) != 1 {
		t.Errorf("request %+v", got)
	}
}

// TestUsageFields: llama.cpp reports timings, Ollama's native counts; a server that ignores
// "stream" answers with one JSON object.
func TestUsageFields(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"llama.cpp": func(w http.ResponseWriter, r *http.Request) {
			sse(w, `{"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}],"timings":{"prompt_n":5,"predicted_n":1}}`, "[DONE]")
		},
		"ollama-native": func(w http.ResponseWriter, r *http.Request) {
			sse(w, `{"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}],"prompt_eval_count":5,"eval_count":1}`)
		},
		"not-streamed": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"a"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}`)
		},
	} {
		srv := httptest.NewServer(h)
		r, err := client(srv.URL).Chat(context.Background(), nil, nil, nil)
		srv.Close()
		if err != nil || r.Message.Content != "a" || r.Usage != (Usage{5, 1}) {
			t.Errorf("%s: %+v, %v", name, r, err)
		}
	}
}

// TestToolCalls: arguments streamed in fragments (OpenAI, with index and id on the first
// fragment), and whole calls without index or id (Ollama); no tool_choice is sent.
func TestToolCalls(t *testing.T) {
	tools := []Tool{NewTool("list_services", "d", ""), NewTool("service_logs", "d", `{"type":"object","properties":{"unit":{"type":"string"}}}`)}
	streams := map[string][]string{
		"fragments": {
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"service_logs","arguments":""}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"unit\":"}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"sshd\"}"}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"list_services"}}]}}]}`,
			`{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`, "[DONE]"},
		"ollama": {
			`{"choices":[{"delta":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"service_logs","arguments":"{\"unit\":\"sshd\"}"}},{"function":{"name":"list_services","arguments":"{}"}}]}}]}`,
			`{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`, "[DONE]"},
		"as-text": {`{"choices":[{"delta":{"content":"{\"name\": \"service_logs\", \"parameters\": {\"unit\":\"sshd\"}}"}}]}`,
			`{"choices":[{"delta":{},"finish_reason":"stop"}]}`, "[DONE]"},
	}
	for name, events := range streams {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if strings.Contains(string(b), "tool_choice") || !strings.Contains(string(b), `"tools":[{"type":"function","function":{"name":"list_services"`) {
				http.Error(w, "bad request: "+string(b), 400)
				return
			}
			sse(w, events...)
		}))
		r, err := client(srv.URL).Chat(context.Background(), []Message{{Role: "user", Content: "x"}}, tools, nil)
		srv.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tc := r.Message.ToolCalls
		if len(tc) == 0 || tc[0].Function.Name != "service_logs" || tc[0].Function.Arguments != `{"unit":"sshd"}` || tc[0].ID == "" || r.FinishReason != "tool_calls" {
			t.Errorf("%s: %+v", name, r)
		}
		if name != "as-text" && (len(tc) != 2 || tc[1].Function.Name != "list_services" || tc[1].ID == tc[0].ID) {
			t.Errorf("%s: second call: %+v", name, tc)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		h    http.HandlerFunc
		want string
		is   error
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, `{"error":{"message":"model crashed: out of memory","type":"server_error"}}`)
		}, "server answered 500 Internal Server Error: model crashed: out of memory", nil},
		{"401", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided"}}`)
		}, "401 Unauthorized: Incorrect API key provided (check the API key", nil},
		{"ollama-404", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"model \"llama9\" not found, try pulling it first"}`)
		}, `model "llama9" not found, try pulling it first (check the endpoint`, nil},
		{"malformed", func(w http.ResponseWriter, r *http.Request) {
			sse(w, `{"choices":[{"delta":{"content":"a"}}]}`, `{"choices":[{"delta"`)
		}, "event 2 is not JSON", ErrMalformed},
		{"cut", func(w http.ResponseWriter, r *http.Request) {
			sse(w, `{"choices":[{"delta":{"content":"a"}}]}`)
		}, "the stream ended before its end", ErrMalformed},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>proxy login</html>\n")
		}, "unexpected line in the event stream", ErrMalformed},
		{"in-stream", func(w http.ResponseWriter, r *http.Request) {
			sse(w, `{"error":{"message":"context length exceeded"}}`)
		}, "server reported an error in the stream: context length exceeded", nil},
		{"no-tools", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"registry.ollama.ai/library/gemma:2b does not support tools"}`)
		}, "does not support tools", ErrToolsUnsupported},
	}
	for _, c := range cases {
		srv := httptest.NewServer(c.h)
		_, err := client(srv.URL).Chat(context.Background(), nil, []Tool{NewTool("x", "", "")}, nil)
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) || c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestTimeouts(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	c := client(srv.URL)
	c.HeaderTimeout, c.IdleTimeout = 200*time.Millisecond, 200*time.Millisecond
	if _, err := c.Chat(context.Background(), nil, nil, nil); !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("no header: %v", err)
	}
	// The stall: a server that starts the stream, then goes silent.
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sse(w, `{"choices":[{"delta":{"content":"a"}}]}`)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer stall.Close()
	defer close(block) // before the servers' Close, which waits for their handlers
	c.Config.Endpoint = stall.URL
	var got string
	if _, err := c.Chat(context.Background(), nil, nil, func(s string) { got += s }); !errors.Is(err, ErrTimeout) || got != "a" {
		t.Errorf("stalled stream: %v (got %q)", err, got)
	}
}

func TestRefusedAndRetries(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := client("http://" + addr)
	var slept []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	_, err = c.Chat(context.Background(), nil, nil, nil)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "after 4 tries") || len(slept) != 3 || slept[2] != 4*slept[0] {
		t.Errorf("refused: %v, slept %v", err, slept)
	}

	// 429 with Retry-After is retried, then answered; 503 without one and 500 are not.
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy/chat/completions":
			if n.Add(1) < 3 {
				w.Header().Set("Retry-After", "2")
				http.Error(w, `{"error":{"message":"rate limited"}}`, 429)
				return
			}
			sse(w, `{"choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}`, "[DONE]")
		default:
			n.Add(1)
			http.Error(w, "overloaded", 503)
		}
	}))
	defer srv.Close()
	slept = nil
	c.Config.Endpoint = srv.URL + "/busy"
	r, err := c.Chat(context.Background(), nil, nil, nil)
	if err != nil || r.Message.Content != "ok" || n.Load() != 3 || len(slept) != 2 || slept[0] != 2*time.Second {
		t.Errorf("429: %+v %v, %d requests, slept %v", r, err, n.Load(), slept)
	}
	n.Store(0)
	c.Config.Endpoint = srv.URL + "/other"
	if _, err := c.Chat(context.Background(), nil, nil, nil); err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: overloaded") || n.Load() != 1 {
		t.Errorf("503 without Retry-After: %v after %d requests", err, n.Load())
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "assistant.conf")
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("sk-file\n"), 0o600)
	os.WriteFile(conf, []byte(FormatConfig("editions/server.yaml", "http://10.0.2.2:8080/v1", "qwen", key)), 0o644)
	env := map[string]string{}
	c, err := LoadConfig(conf, func(k string) string { return env[k] })
	if err != nil || c.Resolve() != nil || c.Endpoint != "http://10.0.2.2:8080/v1" || c.Model != "qwen" || c.APIKey != "sk-file" {
		t.Errorf("file: %+v %v", c, err)
	}
	env["GENAI_ENDPOINT"], env["GENAI_MODEL"], env["GENAI_API_KEY"] = "https://api.example/v1", "big", "sk-env"
	c, _ = LoadConfig(conf, func(k string) string { return env[k] })
	if c.Resolve() != nil || c.Endpoint != "https://api.example/v1" || c.Model != "big" || c.APIKey != "sk-env" {
		t.Errorf("env over file: %+v", c)
	}
	c, _ = LoadConfig(filepath.Join(dir, "none"), func(string) string { return "" })
	if err := c.Resolve(); !errors.Is(err, ErrNoEndpoint) {
		t.Errorf("nothing set: %v", err)
	}
	os.WriteFile(conf, []byte("endpoint = http://x/v1\nkey = sk\n"), 0o644)
	if _, err := LoadConfig(conf, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), `assistant.conf:2: unknown key "key"`) {
		t.Errorf("unknown key: %v", err)
	}
}
