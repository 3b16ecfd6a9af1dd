package boot_test

import (
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/qemu"
)

// TestConsoleLogin boots the default entry: the serial console asks for a login, and root, which
// has neither a password nor (in this image) a key, cannot log in there.
func TestConsoleLogin(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	m := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD}, 4*time.Minute)
	if err := m.Expect("genai-server login: ", 3*time.Minute); err != nil {
		t.Fatalf("no login prompt on the serial console: %v\n%s", err, m.Console())
	}
	for _, password := range []string{"", "root"} {
		m.Send("root\r")
		if err := m.Expect("Password: ", time.Minute); err != nil {
			t.Fatalf("no password prompt: %v\n%s", err, m.Console())
		}
		m.Send(password + "\r")
		if err := m.Expect("Login incorrect", time.Minute); err != nil {
			t.Fatalf("root logged in with password %q: %v\n%s", password, err, m.Console())
		}
		if err := m.Expect("login: ", time.Minute); err != nil {
			t.Fatalf("no new login prompt: %v\n%s", err, m.Console())
		}
	}
}
