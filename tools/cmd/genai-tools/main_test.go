package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
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
