package dashboard

import (
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/svc"
)

func TestFirewallAndAudit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  map[string]string
		status Status
		reason string
	}{
		{"nothing", map[string]string{}, Warn, "none: no nftables or iptables"},
		{"nf_tables loaded", map[string]string{"sys/module/nf_tables/": ""}, Warn, "netfilter loaded (nf_tables)"},
		{"iptables tables", map[string]string{"proc/net/ip_tables_names": "filter\n"}, Warn, "iptables tables filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := firewallCheck(fixture(t, tc.files))
			if f.Status != tc.status || !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("got %s %q, want %s with %q", f.Status, f.Reason, tc.status, tc.reason)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		status Status
		reason string
	}{
		{"no audit", map[string]string{"proc/1/comm": "init\n"}, Warn, "no kernel audit support"},
		{"kernel only", map[string]string{"proc/self/loginuid": "4294967295", "proc/1/comm": "init\n"}, Warn, "no auditd runs"},
		{"auditd", map[string]string{"proc/self/loginuid": "0", "proc/77/comm": "auditd\n"}, Pass, "auditd runs"},
		{"genai-auditd", map[string]string{"proc/self/loginuid": "0", "proc/193/comm": "genai-auditd\n"}, Pass, "genai-auditd runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := auditCheck(fixture(t, tc.files))
			if f.Status != tc.status || !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("got %s %q, want %s with %q", f.Status, f.Reason, tc.status, tc.reason)
			}
		})
	}
}

func TestHardeningChecks(t *testing.T) {
	files := map[string]string{
		"etc/consciousness/services/sshd.socket":    "[Socket]\nListenStream=22\n",
		"etc/consciousness/services/sshd.service":   "[Service]\nExecStart=/usr/sbin/sshd -D\n",
		"etc/consciousness/services/web.service":    "[Service]\nExecStart=/usr/bin/web\nUser=www-data\nNoNewPrivileges=yes\n",
		"etc/consciousness/services/backup.service": "[Service]\nType=oneshot\nExecStart=/usr/bin/backup\n",
		"etc/consciousness/services/net.service":    "[Service]\nExecStart=/usr/bin/net\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW\nRestrictAddressFamilies=AF_NETLINK\n",
	}
	// No state from the init: every service is judged.
	fs := hardeningChecks(fixture(t, files))
	if n := only(t, fs, "net.service"); n.Status != Warn || n.Reason != "runs as root (no User=), with 2 capabilities (CapabilityBoundingSet=)" ||
		!strings.HasSuffix(n.Details[0], "; sandbox: CapabilityBoundingSet=(2 capabilities) RestrictAddressFamilies=AF_NETLINK") ||
		!strings.HasSuffix(only(t, fs, "web.service").Details[0], "; sandbox: NoNewPrivileges=yes") {
		t.Errorf("sandbox keys: %+v", fs)
	}
	if len(fs) != 4 || only(t, fs, "sshd.service").Status != Warn || only(t, fs, "web.service").Status != Pass ||
		only(t, fs, "backup.service").Data["user"] != "root" {
		t.Errorf("without the init: %+v", fs)
	}
	// With it: only the running ones; the rest are counted.
	fs = hardeningChecks(fixture(t, files, svc.Status{Name: "sshd.service", State: svc.Running, PID: 9},
		svc.Status{Name: "backup.service", State: svc.Exited}, svc.Status{Name: "web.service", State: svc.Running, PID: 10}))
	if len(fs) != 3 || only(t, fs, "sshd.service").Reason != "runs as root with every capability (no User=)" ||
		only(t, fs, "web.service").Reason != "runs as www-data" || only(t, fs, "idle units").Reason != "2 services are not running now" {
		t.Errorf("with the init: %+v", fs)
	}
}
