package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/genai-os/genai-build/tools/genai"
	"github.com/genai-os/genai-build/tools/tutor"
)

// educational-tutor; questions (? at its prompt) go to the assistant's endpoint through
// tools/genai, configured as genai-assistant is (/etc/genai/assistant.conf, then GENAI_*).
func init() {
	tutor.NewAsker = newTutorAsker
	register("educational-tutor", tutor.Main)
}

func newTutorAsker() (tutor.Asker, error) {
	cfg, err := genai.LoadConfig(genai.DefaultConfigFile, os.Getenv)
	if err == nil {
		err = cfg.Resolve()
	}
	if errors.Is(err, genai.ErrNoEndpoint) {
		return nil, tutor.ErrNoEndpoint
	}
	if err != nil {
		return nil, err
	}
	return genaiAsker{genai.New(cfg)}, nil
}

// genaiAsker answers with one streamed chat turn: the lesson as the system message, no tools.
type genaiAsker struct{ c *genai.Client }

func (a genaiAsker) Ask(ctx context.Context, system, question string, w io.Writer) error {
	_, err := a.c.Chat(ctx, []genai.Message{{Role: "system", Content: system}, {Role: "user", Content: question}}, nil,
		func(delta string) { io.WriteString(w, delta) })
	return err
}
