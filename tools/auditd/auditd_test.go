package auditd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	in := `# GenAI OS
-D
-b 8192
-f 1
-a always,exit -F arch=b64 -S execve -C uid!=euid -k setuid
-w /etc/shadow -p wa -k shadow
-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k modules
-e 2
`
	rs, err := ParseRules("audit.rules", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 3 || rs.Backlog != 8192 || rs.Enabled != 2 || rs.Failure != 1 {
		t.Fatalf("%d rules, backlog %d, enabled %d, failure %d", len(rs.Rules), rs.Backlog, rs.Enabled, rs.Failure)
	}
	// The setuid rule: the wire format holds the execve syscall (59 on x86-64) and the key.
	if !bytes.Contains(rs.Rules[0], []byte("setuid")) {
		t.Errorf("setuid rule without its key: %x", rs.Rules[0])
	}
}

func TestParseRulesErrors(t *testing.T) {
	in := "-b lots\n\n-a always,exit -S nosuchcall\n-e 3\n-a never,where\n"
	_, err := ParseRules("r", strings.NewReader(in))
	for _, w := range []string{"r:1:", "r:3:", "r:4:", "r:5:"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v, want %q", err, w)
		}
	}
}

func TestLine(t *testing.T) {
	got := string(Line(1112, []byte("audit(1700000000.123:45): pid=7 uid=0 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" res=success'\x00")))
	want := "type=USER_LOGIN msg=audit(1700000000.123:45): pid=7 uid=0 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" res=success'\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := string(Line(1130, []byte("audit(1.2:3): x"))); got != "type=SERVICE_START msg=audit(1.2:3): x\n" {
		t.Errorf("%q", got)
	}
}

// TestShippedRules parses the rules the audit overlay ships.
func TestShippedRules(t *testing.T) {
	p := filepath.Join("..", "..", "overlays", "audit", "etc", "audit", "audit.rules")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseRules(p, f)
	if err != nil {
		t.Fatal(err)
	}
	var setuid bool
	for _, l := range rs.Text {
		setuid = setuid || strings.Contains(l, "-S execve -C uid!=euid")
	}
	if !setuid {
		t.Errorf("no rule for execve of setuid programs in %s: %q", p, rs.Text)
	}
}
