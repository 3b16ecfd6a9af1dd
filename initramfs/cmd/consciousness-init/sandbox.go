package main

import "github.com/genai-os/genai-build/initramfs/sandbox"

// The init starts the commands of units with sandbox keys through itself run as
// sandbox.ExecName (svc.Config.SandboxExec): the helper applies the sandbox, then executes them.
func init() { applets[sandbox.ExecName] = sandbox.Exec }
