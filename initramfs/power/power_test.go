package power

import (
	"syscall"
	"testing"
)

func TestForSignal(t *testing.T) {
	for s, want := range map[syscall.Signal]Action{
		syscall.SIGTERM: Reboot, syscall.SIGINT: Reboot, syscall.SIGUSR1: Halt,
		syscall.SIGUSR2: Poweroff, syscall.SIGHUP: None,
	} {
		if got := ForSignal(s); got != want {
			t.Errorf("%v -> %v, want %v", s, got, want)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/x`: "/x", `/t\011`: "/t\t", `/bad\09`: `/bad\09`, `\`: `\`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
