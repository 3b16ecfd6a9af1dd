package main

import "github.com/genai-os/genai-build/tools/debugger"

func init() { register("consciousness-debugger", debugger.Main) }
