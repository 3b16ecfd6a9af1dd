package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/tools/tutor"
)

func TestDispatch(t *testing.T) {
	register("test-echo", func(args []string, _ io.Reader, stdout, _ io.Writer) int {
		stdout.Write([]byte(strings.Join(args, " ")))
		return 3
	})
	defer delete(tools, "test-echo")
	for _, argv := range [][]string{{"/usr/bin/test-echo", "a", "b"}, {"genai-tools", "test-echo", "a", "b"}} {
		var out, errb bytes.Buffer
		if code := run(argv, nil, &out, &errb); code != 3 || out.String() != "a b" {
			t.Errorf("%v: exit %d, out %q", argv, code, out.String())
		}
	}
	var errb bytes.Buffer
	if code := run([]string{"genai-tools", "nosuch"}, nil, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), `no tool "nosuch"`) {
		t.Errorf("unknown tool: exit %d, %q", code, errb.String())
	}
}

// TestTutorAsksTheAssistant: the tutor's questions go to the endpoint the environment names,
// with the lesson as the system message, and the answer is streamed back.
func TestTutorAsksTheAssistant(t *testing.T) {
	var got struct {
		Messages []struct{ Role, Content string } `json:"messages"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Units live in \"}}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"/etc/consciousness/services.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	t.Setenv("GENAI_ENDPOINT", srv.URL+"/v1")
	t.Setenv("GENAI_MODEL", "test")
	a, err := newTutorAsker()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := a.Ask(context.Background(), "lesson: units", "where do units live?", &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Units live in /etc/consciousness/services." {
		t.Errorf("answer %q", out.String())
	}
	if len(got.Messages) != 2 || got.Messages[0].Role != "system" || got.Messages[0].Content != "lesson: units" || got.Messages[1].Content != "where do units live?" {
		t.Errorf("the server got %+v", got.Messages)
	}
	t.Setenv("GENAI_ENDPOINT", "")
	if _, err := newTutorAsker(); !errors.Is(err, tutor.ErrNoEndpoint) && err != nil {
		// no endpoint anywhere (a host without /etc/genai/assistant.conf): the tutor's own error
		t.Errorf("no endpoint: %v", err)
	}
}
