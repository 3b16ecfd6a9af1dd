package boot_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/qemu"
)

// scriptedModel is an OpenAI-compatible chat server with a script in place of a model: to a
// question it answers with a tool call (restart_service when the question says "restart",
// list_services otherwise), streamed in fragments; to a tool's result it streams an answer built
// from it. It records each request's last message.
type scriptedModel struct {
	mu   sync.Mutex
	seen []string // "user: ..." or "tool(<id>): ..."
}

func (m *scriptedModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct {
			Role       string `json:"role"`
			Content    string `json:"content"`
			ToolCallID string `json:"tool_call_id"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
	}
	if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"not a chat request"}}`, 400)
		return
	}
	last := req.Messages[len(req.Messages)-1]
	m.mu.Lock()
	if last.Role == "tool" {
		m.seen = append(m.seen, fmt.Sprintf("tool(%s): %s", last.ToolCallID, last.Content))
	} else {
		m.seen = append(m.seen, fmt.Sprintf("%s: %s (%d tools)", last.Role, last.Content, len(req.Tools)))
	}
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	send := func(v string) { fmt.Fprintf(w, "data: %s\n\n", v); w.(http.Flusher).Flush() }
	if last.Role == "tool" {
		answer := "Done: " + last.Content
		if strings.HasPrefix(last.Content, "refused") {
			answer = "I did not restart it: you did not allow it."
		} else if strings.HasPrefix(last.Content, "SERVICE") {
			var running []string
			for _, l := range strings.Split(last.Content, "\n") {
				if f := strings.Fields(l); len(f) > 1 && f[1] == "running" {
					running = append(running, f[0])
				}
			}
			answer = fmt.Sprintf("%d services are running: %s.", len(running), strings.Join(running, ", "))
		}
		for _, word := range strings.SplitAfter(answer, " ") {
			b, _ := json.Marshal(word)
			send(`{"choices":[{"delta":{"content":` + string(b) + `}}]}`)
			time.Sleep(20 * time.Millisecond)
		}
		send(`{"choices":[{"delta":{},"finish_reason":"stop"}]}`)
		send(`{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":12}}`)
		send("[DONE]")
		return
	}
	name, args := "list_services", `{}`
	if strings.Contains(last.Content, "restart") {
		name, args = "restart_service", `{"unit":"demo"}`
	}
	b, _ := json.Marshal(args[:len(args)/2])
	b2, _ := json.Marshal(args[len(args)/2:])
	send(`{"choices":[{"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_7","type":"function","function":{"name":"` + name + `","arguments":` + string(b) + `}}]}}]}`)
	send(`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":` + string(b2) + `}}]}}]}`)
	send(`{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}`)
	send("[DONE]")
}

func (m *scriptedModel) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.seen
	m.seen = nil
	return s
}

// TestAssistant builds the server ISO with an assistant endpoint on the host (genai-build iso
// --assistant-endpoint http://10.0.2.2:PORT/v1: QEMU's user network takes the guest to the
// host's 127.0.0.1 there), where a scripted OpenAI-compatible server answers, boots it, logs in
// as root over SSH and asks genai-assistant: which services run (a tool call round trip over
// the init's control socket, then the streamed answer), a restart refused without a terminal and
// done with --yes, and the message without an endpoint.
func TestAssistant(t *testing.T) {
	needQEMU(t)
	model := &scriptedModel{}
	srv := httptest.NewServer(model)
	defer srv.Close()
	_, apiPort, _ := net.SplitHostPort(srv.Listener.Addr().String())
	overlay := t.TempDir()
	unit := filepath.Join(overlay, "etc/consciousness/services/demo.service")
	if err := os.MkdirAll(filepath.Dir(unit), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte("[Unit]\nDescription=A demo service (boot test)\n\n[Service]\nType=simple\nExecStart=/bin/sleep 100000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	signer, authorized := testKey(t)
	endpoint := "http://10.0.2.2:" + apiPort + "/v1"
	res := buildISO(t, "assistant", build.Options{SSHKeys: []string{authorized},
		ExtraOverlays: []string{overlay}, Assistant: edition.Assistant{Endpoint: endpoint, Model: "scripted"}})
	addr, port := freePort(t)
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD, HostFwd: []string{"tcp:127.0.0.1:" + port + "-:22"}}, 5*time.Minute)
	if _, err := vm.Find(ready, 3*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("ssh: %v\nconsole:\n%s", err, vm.Console())
	}
	defer client.Close()
	// run runs cmd and returns its stdout, stderr and exit status.
	run := func(cmd string) (string, string, int) {
		t.Helper()
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var out, errb strings.Builder
		s.Stdout, s.Stderr = &out, &errb
		err = s.Run(cmd)
		code := 0
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitStatus()
		} else if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		t.Logf("# %s\n%s%s(exit %d)", cmd, errb.String(), out.String(), code)
		return out.String(), errb.String(), code
	}
	expect := func(what, s, re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("%s does not match %q:\n%s", what, re, s)
		}
	}

	conf, _, _ := run("cat /etc/genai/assistant.conf")
	expect("assistant.conf", conf, `(?m)^endpoint = `+regexp.QuoteMeta(endpoint)+`\nmodel = scripted\n$`)

	out, errs, code := run(`genai-assistant "which services are running?"`)
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	expect("stderr", errs, `\[tool list_services \{\}\]`)
	expect("answer", out, `^\d+ services are running: (.*, )?demo\.service, (.*, )?sshd\.service(, .*)?\.\n$`)
	seen := model.take()
	if len(seen) != 2 || !strings.HasPrefix(seen[0], "user: which services are running? (8 tools)") ||
		!regexp.MustCompile(`^tool\(call_7\): SERVICE\s+STATE\s+PID.*\n(?s:.*)demo\.service\s+running\s+\d+`).MatchString(seen[1]) {
		t.Errorf("the server saw:\n%s", strings.Join(seen, "\n---\n"))
	}

	pid := func() string {
		st, _, _ := run("consciousness-manager status demo")
		m := regexp.MustCompile(`demo\.service\s+running\s+(\d+)`).FindStringSubmatch(st)
		if m == nil {
			t.Fatalf("demo.service not running:\n%s", st)
		}
		return m[1]
	}
	before := pid()
	out, errs, _ = run(`genai-assistant "please restart demo"`)
	expect("refused restart", errs, `\[Allow the assistant to restart demo: refused: no terminal to ask on; run with --yes to allow\]`)
	expect("refused answer", out, `I did not restart it`)
	if p := pid(); p != before {
		t.Errorf("demo restarted without a yes: pid %s -> %s", before, p)
	}
	out, _, code = run(`genai-assistant --yes "please restart demo"`)
	expect("restart answer", out, `^Done: restart demo: done; 1/1 ok\n$`)
	if p := pid(); p == before || code != 0 {
		t.Errorf("--yes restart: exit %d, pid %s -> %s", code, before, p)
	}
	if seen := model.take(); len(seen) != 4 || !strings.HasPrefix(seen[1], "tool(call_7): refused") || !strings.HasPrefix(seen[3], "tool(call_7): restart demo: done") {
		t.Errorf("the server saw:\n%s", strings.Join(seen, "\n---\n"))
	}

	_, errs, code = run("rm /etc/genai/assistant.conf && genai-assistant hello")
	if code != 2 {
		t.Errorf("no endpoint: exit %d, want 2", code)
	}
	expect("no endpoint", errs, `no assistant endpoint configured(?s:.*)/etc/genai/assistant.conf(?s:.*)GENAI_ENDPOINT=(?s:.*)genai-build iso --assistant-endpoint`)
}
