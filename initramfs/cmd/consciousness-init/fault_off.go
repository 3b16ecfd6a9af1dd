//go:build !faultinject

package main

import "log/slog"

// faultHook and earlyFault do nothing in every image: fault injection is compiled only into test
// builds of the init (go build -tags faultinject; see fault_on.go), so no kernel command line or
// file can reach it in a normal image.
func faultHook(*slog.Logger) func(unit string) { return nil }

func earlyFault() {}
