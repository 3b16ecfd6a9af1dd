package dashboard

import (
	"strings"
	"testing"
)

func TestSSHChecks(t *testing.T) {
	server := "# ours\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
	for _, tc := range []struct {
		name   string
		conf   map[string]string
		check  string
		status Status
		value  string
	}{
		{"server password", map[string]string{"etc/ssh/sshd_config": server}, "password-authentication", Pass, "no"},
		{"server root", map[string]string{"etc/ssh/sshd_config": server}, "permit-root-login", Pass, "prohibit-password"},
		{"server kbd", map[string]string{"etc/ssh/sshd_config": server}, "kbd-interactive-authentication", Pass, "no"},
		{"defaults", map[string]string{"etc/ssh/sshd_config": "Port 22\n"}, "password-authentication", Warn, "yes"},
		{"defaults root", map[string]string{"etc/ssh/sshd_config": "Port 22\n"}, "permit-root-login", Pass, "prohibit-password"},
		{"root with password", map[string]string{"etc/ssh/sshd_config": "permitrootlogin=yes\n"}, "permit-root-login", Fail, "yes"},
		{"first value wins", map[string]string{"etc/ssh/sshd_config": "PasswordAuthentication no\nPasswordAuthentication yes\n"}, "password-authentication", Pass, "no"},
		{"include first", map[string]string{"etc/ssh/sshd_config": "Include sshd_config.d/*.conf\nPasswordAuthentication no\n",
			"etc/ssh/sshd_config.d/10-cloud.conf": "PasswordAuthentication yes\n"}, "password-authentication", Warn, "yes"},
		{"match ignored", map[string]string{"etc/ssh/sshd_config": "Match User dev\nPasswordAuthentication no\n"}, "password-authentication", Warn, "yes"},
		{"match after", map[string]string{"etc/ssh/sshd_config": "PasswordAuthentication no\nMatch User dev\nPasswordAuthentication yes\n"}, "password-authentication", Pass, "no"},
		{"pam asks", map[string]string{"etc/ssh/sshd_config": "UsePAM yes\nChallengeResponseAuthentication yes\n"}, "kbd-interactive-authentication", Warn, "yes"},
		{"keys off", map[string]string{"etc/ssh/sshd_config": "PubkeyAuthentication no\n"}, "pubkey-authentication", Warn, "no"},
		{"empty passwords", map[string]string{"etc/ssh/sshd_config": "PermitEmptyPasswords yes\n"}, "permit-empty-passwords", Fail, "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := only(t, sshChecks(fixture(t, tc.conf)), tc.check)
			key := strings.ReplaceAll(tc.check, "-", "")
			if f.Status != tc.status || f.Data[key] != tc.value {
				t.Errorf("got %s %v (%q), want %s %s=%s", f.Status, f.Data, f.Reason, tc.status, key, tc.value)
			}
		})
	}
	if fs := sshChecks(fixture(t, map[string]string{})); len(fs) != 1 || fs[0].Reason != "no SSH server installed" {
		t.Errorf("no sshd: %+v", fs)
	}
}
