package auditmsg

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestServiceText(t *testing.T) {
	got := ServiceText("sshd.service", "consciousness-init", "/usr/sbin/consciousness-init", true)
	want := `unit=sshd comm="consciousness-init" exe="/usr/sbin/consciousness-init" hostname=? addr=? terminal=? res=success`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := ServiceText("x@1.service", "c", "/e", false); got != `unit=x@1 comm="c" exe="/e" hostname=? addr=? terminal=? res=failed` {
		t.Errorf("failed: %s", got)
	}
}

// TestSendToKernel sends one record to this host's kernel and reads its ack. Needs root
// (CAP_AUDIT_WRITE).
func TestSendToKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: sending audit records needs CAP_AUDIT_WRITE")
	}
	s, err := Open()
	if errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Skip("no audit in this host's kernel:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(ServiceStart, ServiceText("genai-test.service", "auditmsg.test", "/proc/self/exe", true))
	if errors.Is(err, unix.EPERM) {
		t.Skip("CAP_AUDIT_WRITE refused here (a container's user namespace):", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// A kernel-only type (AUDIT_SYSCALL) is refused: the ack's error comes back, not silence.
	if err := s.Send(1300, "x"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("AUDIT_SYSCALL from user space: %v, want EINVAL", err)
	}
}
