package accounts

import (
	"bytes"
	"strings"
	"testing"
)

const hash = "$y$j9T$abcdefghijklmnop$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmno.1"

var sshd = SystemAccounts{Users: []SystemUser{{Name: "sshd", Comment: "sshd user", Home: "/run/sshd", Group: "nogroup"}}}

func TestBuild(t *testing.T) {
	tests := []struct {
		name                  string
		sys                   SystemAccounts
		users                 []User
		passwd, group, shadow string
		keys                  string // "path uid:gid data" lines
		locked                string
	}{
		{
			name: "nothing declared: root locked with *",
			passwd: "root:x:0:0:root:/root:/bin/sh\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			group:  "root:x:0:\nnogroup:x:65534:\n",
			shadow: "root:*::0:99999:7:::\nnobody:*::0:99999:7:::\n",
		},
		{
			name:  "root with a key, sshd from the package",
			sys:   sshd,
			users: []User{{Name: "root", AuthorizedKeys: []string{"ssh-ed25519 AAAAC3Nza test@host  "}}},
			passwd: "root:x:0:0:root:/root:/bin/sh\n" +
				"sshd:x:100:65534:sshd user:/run/sshd:/usr/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			group:  "root:x:0:\nnogroup:x:65534:\n",
			shadow: "root:*::0:99999:7:::\nsshd:!::0:99999:7:::\nnobody:*::0:99999:7:::\n",
			keys:   "root/.ssh/authorized_keys 0:0 ssh-ed25519 AAAAC3Nza test@host\n",
		},
		{
			name: "system ids by name order, users, groups, locked report",
			sys: SystemAccounts{
				Users:  []SystemUser{{Name: "systemd-network"}, {Name: "_apt", Group: "nogroup", Home: "/nonexistent"}, {Name: "messagebus"}},
				Groups: []Group{{Name: "ssh"}, {Name: "wheel", GID: 10}, {Name: "audio"}},
			},
			users: []User{
				{Name: "alice", UID: 1000, Comment: "Alice", Shell: "/bin/bash", Groups: []string{"wheel", "audio"}, PasswordHash: hash},
				{Name: "bob", UID: 1001, Groups: []string{"audio"}},
				{Name: "carol", UID: 1002, Locked: true, AuthorizedKeys: []string{"ssh-ed25519 AAAA carol"}},
			},
			passwd: "root:x:0:0:root:/root:/bin/sh\n" +
				"_apt:x:100:65534::/nonexistent:/usr/sbin/nologin\n" +
				"messagebus:x:101:101::/nonexistent:/usr/sbin/nologin\n" +
				"systemd-network:x:102:102::/nonexistent:/usr/sbin/nologin\n" +
				"alice:x:1000:1000:Alice:/home/alice:/bin/bash\n" +
				"bob:x:1001:1001::/home/bob:/bin/sh\n" +
				"carol:x:1002:1002::/home/carol:/bin/sh\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			// gid 100 stays free (_apt's primary group is nogroup), so audio takes it.
			group: "root:x:0:\nwheel:x:10:alice\naudio:x:100:alice,bob\nmessagebus:x:101:\nsystemd-network:x:102:\nssh:x:103:\n" +
				"alice:x:1000:\nbob:x:1001:\ncarol:x:1002:\nnogroup:x:65534:\n",
			shadow: "root:*::0:99999:7:::\n_apt:!::0:99999:7:::\nmessagebus:!::0:99999:7:::\nsystemd-network:!::0:99999:7:::\n" +
				"alice:" + hash + "::0:99999:7:::\nbob:!::0:99999:7:::\ncarol:!::0:99999:7:::\nnobody:*::0:99999:7:::\n",
			keys:   "home/carol/.ssh/authorized_keys 1002:1002 ssh-ed25519 AAAA carol\n",
			locked: "bob",
		},
		{
			name:   "root with a hash",
			users:  []User{{Name: "root", PasswordHash: hash, Shell: "/bin/bash"}},
			passwd: "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			group:  "root:x:0:\nnogroup:x:65534:\n",
			shadow: "root:" + hash + "::0:99999:7:::\nnobody:*::0:99999:7:::\n",
		},
		{
			name:   "root declared bare is reported",
			users:  []User{{Name: "root"}},
			passwd: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			group:  "root:x:0:\nnogroup:x:65534:\n",
			shadow: "root:*::0:99999:7:::\nnobody:*::0:99999:7:::\n",
			locked: "root",
		},
		{
			name:  "fixed system uid and a user with a primary group",
			sys:   SystemAccounts{Users: []SystemUser{{Name: "sshd", UID: 105, Group: "nogroup"}}, Groups: []Group{{Name: "staff", GID: 50}}},
			users: []User{{Name: "dave", UID: 65536, GID: 50, AuthorizedKeys: []string{"k1", "k2"}}},
			passwd: "root:x:0:0:root:/root:/bin/sh\nsshd:x:105:65534::/nonexistent:/usr/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\ndave:x:65536:50::/home/dave:/bin/sh\n",
			group:  "root:x:0:\nstaff:x:50:\nnogroup:x:65534:\n",
			shadow: "root:*::0:99999:7:::\nsshd:!::0:99999:7:::\nnobody:*::0:99999:7:::\ndave:*::0:99999:7:::\n",
			keys:   "home/dave/.ssh/authorized_keys 65536:50 k1\nk2\n",
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Build(tc.sys, tc.users)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got []byte, want string) {
				if string(got) != want {
					t.Errorf("%s:\n%s\nwant:\n%s", what, got, want)
				}
			}
			check("passwd", a.Passwd, tc.passwd)
			check("group", a.Group, tc.group)
			check("shadow", a.Shadow, tc.shadow)
			var keys strings.Builder
			for _, k := range a.Keys {
				keys.WriteString(k.Path + " " + itoa(k.UID) + ":" + itoa(k.GID) + " " + string(k.Data))
			}
			check("keys", []byte(keys.String()), tc.keys)
			check("locked", []byte(strings.Join(a.LockedUsers, ",")), tc.locked)

			// Deterministic, whatever the input order.
			rev := func(s []SystemUser) []SystemUser {
				out := make([]SystemUser, len(s))
				for i := range s {
					out[len(s)-1-i] = s[i]
				}
				return out
			}
			sys2 := tc.sys
			sys2.Users = rev(tc.sys.Users)
			p, g, s, err := Generate(sys2, tc.users)
			if err != nil || !bytes.Equal(p, a.Passwd) || !bytes.Equal(g, a.Group) || !bytes.Equal(s, a.Shadow) {
				t.Errorf("Generate with system users reversed differs (%v)", err)
			}
		})
	}
}

func itoa(n int) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		sys   SystemAccounts
		users []User
		want  []string
	}{
		{"bad names", SystemAccounts{Users: []SystemUser{{Name: "Bad"}}}, []User{{Name: "1x", UID: 1000}, {Name: "a:b", UID: 1001}, {Name: strings.Repeat("a", 33), UID: 1002}},
			[]string{`system user "Bad": invalid name`, `user "1x": invalid name`, `user "a:b": invalid name`, "invalid name"}},
		{"duplicate uid", SystemAccounts{}, []User{{Name: "a", UID: 1000}, {Name: "b", UID: 1000}}, []string{"user b: uid 1000 already belongs to a"}},
		{"duplicate name", SystemAccounts{}, []User{{Name: "a", UID: 1000}, {Name: "a", UID: 1001}}, []string{"user a: declared twice"}},
		{"reserved ids", SystemAccounts{}, []User{{Name: "a", UID: 0}, {Name: "b", UID: 500}, {Name: "c", UID: 65534}, {Name: "d", UID: 60000}, {Name: "nobody", UID: 1000}},
			[]string{"user a: uid 0 is root's", "user b: uid 500 is reserved", "user c: uid 65534 is reserved", "user d: uid 60000 is reserved", "user nobody: declared twice or reserved"}},
		{"root ids", SystemAccounts{}, []User{{Name: "root", UID: 5}}, []string{"user root: uid and gid must be 0"}},
		{"plain-text password", SystemAccounts{}, []User{{Name: "a", UID: 1000, PasswordHash: "hunter2"}, {Name: "root", PasswordHash: "x:y"}}, []string{"user a: password hash is not a crypt(3) hash", "user root: password hash"}},
		{"unknown group", SystemAccounts{Users: []SystemUser{{Name: "svc", Group: "nope"}}}, []User{{Name: "a", UID: 1000, Groups: []string{"wheel"}}, {Name: "b", UID: 1001, GID: 4242}},
			[]string{"system user svc: no group nope", "user a: no group wheel", "user b: no group has gid 4242"}},
		{"system user clashes", SystemAccounts{Users: []SystemUser{{Name: "a"}, {Name: "root"}, {Name: "s", UID: 1000}}}, []User{{Name: "a", UID: 1000}},
			[]string{"system user a: also declared", "system user root: also declared", "system user s: uid 1000 already belongs to a"}},
		{"group clashes", SystemAccounts{Groups: []Group{{Name: "g", GID: 10}, {Name: "h", GID: 10}, {Name: "root"}, {Name: "m", Members: []string{"ghost"}}}}, nil,
			[]string{"group h: gid 10 already belongs to g", "group root: declared twice or reserved", "group m: member ghost is no user"}},
		{"bad fields", SystemAccounts{}, []User{{Name: "a", UID: 1000, Home: "rel"}, {Name: "b", UID: 1001, Comment: "x:y"}, {Name: "c", UID: 1002, AuthorizedKeys: []string{"k\nk"}}},
			[]string{"user a: home and shell", "user b: home and shell", "user c: an authorized key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(tc.sys, tc.users)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
