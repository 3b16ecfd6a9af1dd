package accounts

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSysusers(t *testing.T) {
	sys, err := ParseSysusers([]byte(`# openssh-server
u sshd -:nogroup "sshd user" /run/sshd
u! _apt 42 - /nonexistent /usr/sbin/nologin
g render -
g kvm 36
m alice render
m alice plugdev
r - 500-900
`))
	if err != nil {
		t.Fatal(err)
	}
	want := SystemAccounts{
		Users: []SystemUser{
			{Name: "sshd", Group: "nogroup", Comment: "sshd user", Home: "/run/sshd"},
			{Name: "_apt", UID: 42, Home: "/nonexistent", Shell: "/usr/sbin/nologin"},
		},
		Groups: []Group{{Name: "render", Members: []string{"alice"}}, {Name: "kvm", GID: 36}, {Name: "plugdev", Members: []string{"alice"}}},
	}
	if !reflect.DeepEqual(sys, want) {
		t.Errorf("got  %+v\nwant %+v", sys, want)
	}
	// The openssh-server line through Build gives Debian's sshd account.
	a, err := Build(SystemAccounts{Users: sys.Users[:1]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(a.Passwd), "sshd:x:100:65534:sshd user:/run/sshd:/usr/sbin/nologin\n") {
		t.Errorf("passwd:\n%s", a.Passwd)
	}
	for _, bad := range []string{`u x /path/to/file`, `u x "unterminated`, `q x`, `u x -:100`} {
		if _, err := ParseSysusers([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
