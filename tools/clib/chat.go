package main

// A minimal client of the OpenAI-compatible chat API, behind chatClient. tools/genai (the
// assistant's shared client, written in parallel) is meant to take its place at merge; this file
// holds only what libgenai needs: the configuration as the contract reads it, one request, and its
// server-sent-events stream.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// message is one turn of a conversation.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatClient is what a session needs of a client.
type chatClient interface {
	// Chat sends msgs; with onChunk it streams and calls it with each piece, else it waits.
	// It returns the whole answer.
	Chat(ctx context.Context, cfg config, msgs []message, onChunk func(string) error) (string, error)
}

// config is the endpoint, model and key.
type config struct {
	Endpoint string // base URL ending in /v1
	Model    string
	APIKey   string
}

// defaultConfigFile is where the build writes the assistant's configuration.
const defaultConfigFile = "/etc/genai/assistant.conf"

// loadConfig reads the file (GENAI_CONFIG or the default; a missing file is no error), then the
// environment.
func loadConfig() (config, error) {
	var c config
	path := os.Getenv("GENAI_CONFIG")
	if path == "" {
		path = defaultConfigFile
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return c, fmt.Errorf("%s:%d: want key = value", path, i+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "endpoint":
			c.Endpoint = v
		case "model":
			c.Model = v
		case "api_key_file":
			key, err := os.ReadFile(v)
			if err != nil {
				return c, fmt.Errorf("%s:%d: api_key_file: %w", path, i+1, err)
			}
			c.APIKey = strings.TrimSpace(string(key))
		}
	}
	for env, dst := range map[string]*string{"GENAI_ENDPOINT": &c.Endpoint, "GENAI_MODEL": &c.Model, "GENAI_API_KEY": &c.APIKey} {
		if v := os.Getenv(env); v != "" {
			*dst = v
		}
	}
	return c, nil
}

// httpClient speaks POST {endpoint}/chat/completions.
type httpClient struct{ http *http.Client }

// newHTTPClient has no overall timeout (answers stream for long); a dead server is caught by the
// dial and response-header timeouts.
func newHTTPClient() *httpClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 5 * time.Minute // a local model may think long before its first byte
	return &httpClient{http: &http.Client{Transport: tr}}
}

type chatRequest struct {
	Model    string    `json:"model"`
	Messages []message `json:"messages"`
	Stream   bool      `json:"stream"`
}

type chatAnswer struct {
	Choices []struct {
		Message message `json:"message"`
		Delta   message `json:"delta"`
	} `json:"choices"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (h *httpClient) Chat(ctx context.Context, cfg config, msgs []message, onChunk func(string) error) (string, error) {
	if cfg.Endpoint == "" {
		return "", errors.New("no assistant endpoint: set endpoint in " + defaultConfigFile + " or GENAI_ENDPOINT (e.g. http://10.0.2.2:11434/v1)")
	}
	if cfg.Model == "" {
		return "", errors.New("no model: set model in " + defaultConfigFile + ", GENAI_MODEL or genai_set_ai_model")
	}
	body, err := json.Marshal(chatRequest{Model: cfg.Model, Messages: msgs, Stream: onChunk != nil})
	if err != nil {
		return "", err
	}
	url := strings.TrimSuffix(cfg.Endpoint, "/") + "/chat/completions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var a chatAnswer
		if json.Unmarshal(b, &a) == nil && a.Error != nil {
			return "", fmt.Errorf("%s: %s: %s", url, resp.Status, a.Error.Message)
		}
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	if onChunk == nil {
		var a chatAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return "", fmt.Errorf("%s: malformed answer: %w", url, err)
		}
		if len(a.Choices) == 0 {
			return "", fmt.Errorf("%s: answer without choices", url)
		}
		return a.Choices[0].Message.Content, nil
	}
	// Server-sent events: "data: {json}" lines, ended by "data: [DONE]".
	var all strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			return all.String(), nil
		}
		var a chatAnswer
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			return "", fmt.Errorf("%s: malformed stream: %w", url, err)
		}
		if a.Error != nil {
			return "", fmt.Errorf("%s: %s", url, a.Error.Message)
		}
		if len(a.Choices) == 0 || a.Choices[0].Delta.Content == "" {
			continue
		}
		all.WriteString(a.Choices[0].Delta.Content)
		if err := onChunk(a.Choices[0].Delta.Content); err != nil {
			return "", err
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("%s: reading the stream: %w", url, err)
	}
	return "", fmt.Errorf("%s: the stream ended without [DONE]", url)
}
