package assistant

import (
	"bufio"
	"context"
	"strings"

	"github.com/genai-os/genai-build/tools/genai"
)

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

// recorder is a real client that notes the last user message of each request.
type recorder struct {
	endpoint string
	got      *[]string
}

func (r recorder) Chat(ctx context.Context, m []genai.Message, tools []genai.Tool, d func(string)) (genai.Reply, error) {
	for i := len(m) - 1; i >= 0; i-- {
		if m[i].Role == "user" {
			*r.got = append(*r.got, m[i].Content)
			break
		}
	}
	return genai.New(genai.Config{Endpoint: r.endpoint}).Chat(ctx, m, tools, d)
}
