package main

import "github.com/genai-os/genai-build/tools/dashboard"

func init() { register("security-dashboard", dashboard.Main) }
