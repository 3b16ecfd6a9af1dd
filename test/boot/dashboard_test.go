package boot_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/tools/dashboard"
)

// TestDashboard boots the server ISO from a CD under UEFI with Secure Boot, with a root key given
// at build time, and runs security-dashboard as root over SSH: Secure Boot is on, port 22 belongs
// to sshd.socket (the init listens, sshd.service serves), root logs in by key only and sshd -T
// says no to passwords; the exit status is the worst finding's. A BIOS boot adds nothing the unit
// tests of the firmware check do not cover (/sys/firmware/efi absent), so there is none.
func TestDashboard(t *testing.T) {
	needQEMU(t)
	signer, authorized := testKey(t)
	res := buildISO(t, "dashboard", build.Options{SSHKeys: []string{authorized}})
	addr, port := freePort(t)
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.SecureBoot, Media: qemu.CD, StateDir: t.TempDir(),
		HostFwd: []string{"tcp:127.0.0.1:" + port + "-:22"}}, 6*time.Minute)
	if _, err := vm.WaitFor(regexp.MustCompile(`genai-os: boot firmware=uefi secureboot=on`)); err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	if _, err := vm.Find(ready, 3*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("ssh: %v\nconsole:\n%s", err, vm.Console())
	}
	defer client.Close()
	// run returns a command's standard output and exit status.
	run := func(cmd string) (string, int) {
		t.Helper()
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var stderr strings.Builder
		s.Stderr = &stderr
		out, err := s.Output(cmd)
		var exit *ssh.ExitError
		switch {
		case errors.As(err, &exit):
			return string(out), exit.ExitStatus()
		case err != nil:
			t.Fatalf("%s: %v\n%s%s", cmd, err, out, stderr.String())
		}
		return string(out), 0
	}

	text, code := run("security-dashboard -v")
	t.Logf("security-dashboard -v (exit %d):\n%s", code, text)
	js, jcode := run("security-dashboard --json")
	r, err := dashboard.ReadJSON(strings.NewReader(js))
	if err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if jcode != r.Worst.ExitCode() || code != jcode {
		t.Errorf("exit status %d (text), %d (JSON), want the worst finding's %d", code, jcode, r.Worst.ExitCode())
	}
	find := func(section string, match func(dashboard.Finding) bool) *dashboard.Finding {
		for i, f := range r.Findings {
			if f.Section == section && match(f) {
				return &r.Findings[i]
			}
		}
		t.Errorf("no %s finding matches; report:\n%s", section, js)
		return nil
	}
	checks := []struct {
		section string
		what    string
		match   func(dashboard.Finding) bool
	}{
		{"boot", "secure boot on", func(f dashboard.Finding) bool {
			return f.Check == "secure-boot" && f.Data["secure_boot"] == "on" && f.Status == dashboard.Pass
		}},
		{"boot", "lockdown", func(f dashboard.Finding) bool {
			return f.Check == "lockdown" && f.Status == dashboard.Pass
		}},
		{"identity", "root manifest whole", func(f dashboard.Finding) bool {
			return f.Check == "root-manifest" && f.Status == dashboard.Pass && f.Data["edition"] == "server"
		}},
		{"sockets", "port 22 owned by sshd.socket", func(f dashboard.Finding) bool {
			return f.Data["port"] == "22" && strings.HasPrefix(f.Data["proto"], "tcp") && f.Data["owner"] == "sshd.socket" &&
				strings.Contains(f.Reason, "served by sshd.service")
		}},
		{"accounts", "root by key only", func(f dashboard.Finding) bool {
			return f.Check == "account root" && f.Data["methods"] == "key" && f.Status == dashboard.Pass
		}},
		{"ssh", "no password authentication, from sshd -T", func(f dashboard.Finding) bool {
			return f.Check == "password-authentication" && f.Data["passwordauthentication"] == "no" && f.Data["source"] == "sshd -T"
		}},
		{"ssh", "root login by key only", func(f dashboard.Finding) bool {
			// sshd -T prints prohibit-password by its older name
			return f.Check == "permit-root-login" && f.Data["permitrootlogin"] == "without-password" && f.Status == dashboard.Pass
		}},
		{"firewall", "no firewall, said", func(f dashboard.Finding) bool { return f.Status == dashboard.Warn }},
	}
	for _, c := range checks {
		if f := find(c.section, c.match); f != nil {
			t.Logf("%s: %s %s: %s", c.what, f.Status, f.Check, f.Reason)
		}
	}
	page, _ := run("security-dashboard --html /tmp/posture.html >/dev/null; cat /tmp/posture.html")
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "secure-boot") || strings.Contains(page, "http://") {
		t.Errorf("--html wrote:\n%s", page)
	}
}
