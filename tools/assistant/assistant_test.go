package assistant

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

// initFake stands for the init's service manager behind a real control socket.
type initFake struct {
	mu        sync.Mutex
	restarted []string
}

func (f *initFake) Status(...string) ([]svc.Status, error) {
	return []svc.Status{{Name: "sshd.service", State: svc.Running, PID: 301, Level: "0.3"},
		{Name: "demo.service", State: svc.Failed, Result: "exit-code", Restarts: 5, Level: "0.5"}}, nil
}
func (f *initFake) Start(n ...string) (svc.Report, error) { return svc.Report{OK: 1, Total: 1}, nil }
func (f *initFake) Stop(...string) error                  { return nil }
func (f *initFake) Restart(n ...string) (svc.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarted = append(f.restarted, n...)
	return svc.Report{OK: 1, Total: 1}, nil
}
func (f *initFake) Reload(string) error { return nil }
func (f *initFake) Logs(string) ([]svc.LogLine, error) {
	return []svc.LogLine{{At: 2 * time.Second, Text: "demo: cannot bind :80"}}, nil
}
func (f *initFake) Follow(string) ([]svc.LogLine, <-chan svc.LogLine, func(), error) {
	return nil, nil, func() {}, nil
}
func (f *initFake) Level() bootconf.Level              { return 500 }
func (f *initFake) SetLevel(bootconf.Level) svc.Report { return svc.Report{} }

// The assistant neither follows events nor reads crash history.
func (f *initFake) Subscribe() *svc.Subscription             { return nil }
func (f *initFake) History(...string) ([]svc.History, error) { return nil, nil }

func startInit(t *testing.T) (*initFake, string) {
	dir, err := os.MkdirTemp("", "assistant")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "control.sock")
	l, err := ctl.Listen(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &initFake{}
	go (&ctl.Server{M: f, AllowGID: -1}).Serve(l)
	return f, path
}

type msg struct {
	Role       string `json:"role"`
	Content    string `json:"content"`
	ToolCallID string `json:"tool_call_id"`
	ToolCalls  []struct {
		ID string `json:"id"`
	} `json:"tool_calls"`
}

// model is a scripted server of the chat API: to a question it answers with a tool call chosen
// by a word of the question, and to a tool's result with text quoting it.
func model(t *testing.T, tools bool, seen *[]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []msg            `json:"messages"`
			Tools    []map[string]any `json:"tools"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if !tools && len(req.Tools) > 0 {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"registry.ollama.ai/library/tiny:1b does not support tools"}`)
			return
		}
		last := req.Messages[len(req.Messages)-1]
		*seen = append(*seen, last.Role)
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(v string) { fmt.Fprintf(w, "data: %s\n\n", v); w.(http.Flusher).Flush() }
		text := func(s string) {
			for _, word := range strings.SplitAfter(s, " ") {
				b, _ := json.Marshal(word)
				send(`{"choices":[{"delta":{"content":` + string(b) + `}}]}`)
			}
			send(`{"choices":[{"delta":{},"finish_reason":"stop"}]}`)
			send("[DONE]")
		}
		switch {
		case last.Role == "tool":
			// The tool's id must be the call's.
			prev := req.Messages[len(req.Messages)-2]
			if len(prev.ToolCalls) == 0 || prev.ToolCalls[0].ID != last.ToolCallID {
				text("bad tool_call_id")
				return
			}
			text("Tool said: " + last.Content)
		case len(req.Tools) == 0:
			text("I cannot see this system.")
		default:
			call, a := "list_services", "{}"
			if strings.Contains(last.Content, "restart") {
				call, a = "restart_service", `{"unit":"demo"}`
			}
			b, _ := json.Marshal(a)
			send(`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"` + call + `","arguments":""}}]}}]}`)
			send(`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":` + string(b) + `}}]}}]}`)
			send(`{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`)
			send("[DONE]")
		}
	}))
}

func runCmd(args []string, stdin string, env map[string]string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestQuestionWithTools(t *testing.T) {
	_, sock := startInit(t)
	var seen []string
	srv := model(t, true, &seen)
	defer srv.Close()
	env := map[string]string{"GENAI_ENDPOINT": srv.URL + "/v1"}
	code, out, errs := runCmd([]string{"--config", "/nonexistent", "--socket", sock, "which services are running?"}, "", env)
	if code != 0 || !strings.Contains(out, "Tool said: SERVICE") || !strings.Contains(out, "sshd.service running 301") ||
		!strings.Contains(out, "demo.service failed") || !strings.Contains(errs, "[tool list_services {}]") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if strings.Join(seen, ",") != "user,tool" {
		t.Errorf("turns seen by the model: %v", seen)
	}
	// The question on stdin.
	if code, out, _ := runCmd([]string{"--config", "/nonexistent", "--socket", sock}, "which services?\n", env); code != 0 || !strings.Contains(out, "sshd.service") {
		t.Errorf("stdin: exit %d: %s", code, out)
	}
}

func TestActionsNeedYes(t *testing.T) {
	f, sock := startInit(t)
	var seen []string
	srv := model(t, true, &seen)
	defer srv.Close()
	env := map[string]string{"GENAI_ENDPOINT": srv.URL + "/v1"}
	// No terminal to ask on and no --yes: refused, and the model is told so.
	code, out, errs := runCmd([]string{"--config", "/nonexistent", "--socket", sock, "please restart demo"}, "", env)
	if code != 0 || !strings.Contains(out, "Tool said: refused: the user did not allow restart demo") || len(f.restarted) != 0 ||
		!strings.Contains(errs, "refused: no terminal") {
		t.Errorf("refused: exit %d, restarted %v\n%s\n%s", code, f.restarted, out, errs)
	}
	code, out, errs = runCmd([]string{"--yes", "--config", "/nonexistent", "--socket", sock, "please restart demo"}, "", env)
	if code != 0 || !strings.Contains(out, "Tool said: restart demo: done; 1/1 ok") || strings.Join(f.restarted, ",") != "demo.service" {
		t.Errorf("--yes: exit %d, restarted %v\n%s\n%s", code, f.restarted, out, errs)
	}
}

func TestNoToolSupport(t *testing.T) {
	_, sock := startInit(t)
	var seen []string
	srv := model(t, false, &seen)
	defer srv.Close()
	code, out, errs := runCmd([]string{"--config", "/nonexistent", "--socket", sock, "--endpoint", srv.URL + "/v1", "what runs?"}, "", nil)
	if code != 0 || out != "I cannot see this system.\n" || !strings.Contains(errs, "does not support tools; asking without tools") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
}

func TestNoEndpoint(t *testing.T) {
	code, _, errs := runCmd([]string{"--config", "/nonexistent", "hello"}, "", nil)
	if code != 2 || !strings.Contains(errs, "no assistant endpoint configured") || !strings.Contains(errs, "genai-build iso --assistant-endpoint") ||
		!strings.Contains(errs, "GENAI_ENDPOINT=") || !strings.Contains(errs, "/etc/genai/assistant.conf") {
		t.Errorf("exit %d: %s", code, errs)
	}
	code, out, _ := runCmd([]string{"--help"}, "", nil)
	if code != 0 || !strings.Contains(out, "Examples:") {
		t.Errorf("--help: %d %s", code, out)
	}
}

func TestServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprint(w, `{"error":{"message":"model failed to load"}}`)
	}))
	defer srv.Close()
	code, _, errs := runCmd([]string{"--config", "/nonexistent", "--endpoint", srv.URL, "hi"}, "", nil)
	if code != 1 || !strings.Contains(errs, "server answered 500 Internal Server Error: model failed to load") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// TestInteractive: a line ending in \ continues; the conversation is kept; an empty line ends.
func TestInteractive(t *testing.T) {
	_, sock := startInit(t)
	var seen []string
	srv := model(t, true, &seen)
	defer srv.Close()
	var out, errb bytes.Buffer
	s := &session{chat: nil, sys: &system{socket: sock}, out: &out, errw: &errb, useTools: true, confirm: func(string) bool { return false }}
	var got []string
	s.chat = recorder{srv.URL + "/v1", &got}
	code := s.interactive(context.Background(), bufioReader("which \\\nservices?\nand again\n\n"))
	if code != 0 || len(got) != 4 || got[0] != "which \nservices?" || got[2] != "and again" {
		t.Errorf("exit %d, questions %q\n%s", code, got, errb.String())
	}
	if n := strings.Count(out.String(), "Tool said: SERVICE"); n != 2 {
		t.Errorf("%d answers:\n%s", n, out.String())
	}
}

// TestManPage: the developer overlay installs the man page as written here.
func TestManPage(t *testing.T) {
	a, err := os.ReadFile("genai-assistant.1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../overlays/developer/usr/share/man/man1/genai-assistant.1")
	if err != nil || !bytes.Equal(a, b) {
		t.Errorf("overlays/developer/usr/share/man/man1/genai-assistant.1 differs from tools/assistant/genai-assistant.1 (%v): copy it", err)
	}
}
