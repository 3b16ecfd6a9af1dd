package main

// libgenai's chat goes through tools/genai, the suite's one client of the OpenAI-compatible chat
// API (the one genai-assistant and educational-tutor use, with its handling of Ollama's and
// llama.cpp's differences, its retries and its errors), behind chatClient so a test can count the
// calls.

import (
	"context"
	"errors"
	"os"

	"github.com/genai-os/genai-build/tools/genai"
)

// message is one turn of a conversation.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatClient is what a session needs of a client.
type chatClient interface {
	// Chat sends msgs; with onChunk it streams and calls it with each piece (a non-nil error
	// from it stops the answer and is returned), else it waits. It returns the whole answer.
	Chat(ctx context.Context, cfg config, msgs []message, onChunk func(string) error) (string, error)
}

// config is the endpoint, model and key.
type config struct {
	Endpoint string // base URL ending in /v1
	Model    string
	APIKey   string
}

// loadConfig reads the assistant's configuration as genai-assistant does: the file (GENAI_CONFIG,
// else /etc/genai/assistant.conf; a missing file is no error), then GENAI_ENDPOINT, GENAI_MODEL
// and GENAI_API_KEY, and the key file it names. No endpoint is not an error here: a program may
// set one with genai_set_endpoint.
func loadConfig() (config, error) {
	path := os.Getenv("GENAI_CONFIG")
	if path == "" {
		path = genai.DefaultConfigFile
	}
	c, err := genai.LoadConfig(path, os.Getenv)
	if err == nil {
		if err = c.Resolve(); errors.Is(err, genai.ErrNoEndpoint) {
			err = nil
		}
	}
	return config{Endpoint: c.Endpoint, Model: c.Model, APIKey: c.APIKey}, err
}

// genaiClient is chatClient over tools/genai.
type genaiClient struct{}

func newHTTPClient() chatClient { return genaiClient{} }

func (genaiClient) Chat(ctx context.Context, cfg config, msgs []message, onChunk func(string) error) (string, error) {
	if cfg.Endpoint == "" {
		return "", genai.ErrNoEndpoint
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stopped error
	var onDelta func(string)
	if onChunk != nil {
		onDelta = func(d string) {
			if stopped == nil {
				if stopped = onChunk(d); stopped != nil {
					cancel()
				}
			}
		}
	}
	var in []genai.Message
	for _, m := range msgs {
		in = append(in, genai.Message{Role: m.Role, Content: m.Content})
	}
	r, err := genai.New(genai.Config{Endpoint: cfg.Endpoint, Model: cfg.Model, APIKey: cfg.APIKey}).Chat(ctx, in, nil, onDelta)
	if stopped != nil {
		return r.Message.Content, stopped
	}
	return r.Message.Content, err
}
