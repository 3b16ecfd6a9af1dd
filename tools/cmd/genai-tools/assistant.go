package main

import "github.com/genai-os/genai-build/tools/assistant"

func init() { register("genai-assistant", assistant.Main) }
