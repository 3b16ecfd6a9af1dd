package power

import (
	"syscall"
	"testing"
)

func TestForSignal(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		want Meaning
	}{
		{syscall.SIGINT, Meaning{Action: Reboot}},
		{syscall.SIGTERM, Meaning{}}, // systemd: re-execute, not busybox's reboot
		{syscall.SIGHUP, Meaning{}},
		{syscall.SIGUSR1, Meaning{}},
		{syscall.SIGUSR2, Meaning{Dump: true}},
		{syscall.Signal(37), Meaning{Action: Halt}},     // SIGRTMIN+3
		{syscall.Signal(38), Meaning{Action: Poweroff}}, // SIGRTMIN+4
		{syscall.Signal(39), Meaning{Action: Reboot}},   // SIGRTMIN+5
		{syscall.Signal(40), Meaning{Action: Reboot}},   // SIGRTMIN+6, kexec
		{syscall.Signal(47), Meaning{Action: Halt, Immediate: true}},
		{syscall.Signal(48), Meaning{Action: Poweroff, Immediate: true}},
		{syscall.Signal(49), Meaning{Action: Reboot, Immediate: true}},
		{syscall.Signal(50), Meaning{Action: Reboot, Immediate: true}},
		{syscall.SIGPWR, Meaning{}},
		{syscall.Signal(41), Meaning{}}, // SIGRTMIN+7: nothing
	} {
		got := ForSignal(tt.sig)
		got.Why = ""
		if got != tt.want {
			t.Errorf("%v (%d) -> %+v, want %+v", tt.sig, int(tt.sig), got, tt.want)
		}
	}
}

func TestSignalsAndForAction(t *testing.T) {
	sigs := Signals()
	if len(sigs) != 13 || sigs[0] != syscall.SIGHUP || sigs[len(sigs)-1] != syscall.Signal(50) {
		t.Errorf("Signals() = %v", sigs)
	}
	for _, a := range []Action{Halt, Poweroff, Reboot} {
		m := ForSignal(ForAction(a))
		if m.Action != a || m.Immediate {
			t.Errorf("ForAction(%v) = %v, which means %+v", a, ForAction(a), m)
		}
	}
	if ForAction(None) != 0 {
		t.Error("ForAction(None) is a signal")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/x`: "/x", `/t\011`: "/t\t", `/bad\09`: `/bad\09`, `\`: `\`} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
