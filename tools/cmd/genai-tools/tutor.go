package main

import "github.com/genai-os/genai-build/tools/tutor"

// educational-tutor; questions (? at its prompt) go to the assistant once tutor.NewAsker is set
// to a tools/genai client.
func init() { register("educational-tutor", tutor.Main) }
