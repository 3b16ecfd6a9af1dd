package dashboard

import (
	"strings"
	"testing"
)

func TestAccountChecks(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"sync:x:4:65534:sync:/bin:/bin/sync\n" +
		"dev:x:1000:1000::/home/dev:/bin/bash\n"
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBc2XMP2TqzRx8ktTRVvM44bFFuwyZaHXKhzDSWW0fGw test\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		account string
		status  Status
		methods string
		reason  string
	}{
		{"key only", map[string]string{"etc/shadow": "root:*:20000::::::\ndev:!:20000::::::\n", "root/.ssh/authorized_keys": "# mine\n" + key},
			"account root", Pass, "key", "key only: 1 SSH key, password locked"},
		{"locked, no key", map[string]string{"etc/shadow": "root:*:20000::::::\ndev:!$y$j9T$abc$def:20000::::::\n"},
			"account dev", Pass, "", "cannot log in"},
		{"no password", map[string]string{"etc/shadow": "root::20000::::::\n"}, "account root", Fail, "password", "no password: anyone at the console"},
		{"yescrypt and key", map[string]string{"etc/shadow": "dev:$y$j9T$salt$hash:20000::::::\n", "home/dev/.ssh/authorized_keys": key + key},
			"account dev", Pass, "password,key", "by password or key (password yescrypt, 2 SSH keys)"},
		{"md5", map[string]string{"etc/shadow": "dev:$1$salt$hash:20000::::::\n"}, "account dev", Warn, "password", "md5crypt"},
		{"des", map[string]string{"etc/shadow": "dev:abJnggxhB/yWI:20000::::::\n"}, "account dev", Warn, "password", "descrypt"},
		{"no shadow entry", map[string]string{"etc/shadow": "root:*:1::::::\n"}, "account dev", Pass, "", "cannot log in"},
		{"shadow unreadable", map[string]string{}, "account root", Warn, "", "password unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := accountChecks(fixture(t, with(tc.files, map[string]string{"etc/passwd": passwd})))
			f := only(t, fs, tc.account)
			if f.Status != tc.status || f.Data["methods"] != tc.methods || !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("got %s methods %q %q, want %s %q with %q", f.Status, f.Data["methods"], f.Reason, tc.status, tc.methods, tc.reason)
			}
			if sys := only(t, fs, "system accounts"); sys.Reason != "2 accounts have no login shell" {
				t.Errorf("system accounts: %q", sys.Reason)
			}
		})
	}
}
