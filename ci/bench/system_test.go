package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestTinyTrue runs the minimal true the 100-unit figure uses, as the guest will.
func TestTinyTrue(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("an x86-64 Linux program")
	}
	p := filepath.Join(t.TempDir(), "true")
	if err := os.WriteFile(p, tinyTrue(), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(p).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if n := len(tinyTrue()); n != 129 {
		t.Errorf("%d bytes, want 129", n)
	}
}
