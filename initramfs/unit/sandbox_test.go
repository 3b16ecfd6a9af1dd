package unit

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// parseService parses a [Service] section of the given lines (line 1 is "[Service]", line 2
// ExecStart=, the keys from line 3 on).
func parseService(t *testing.T, lines ...string) (*Unit, []Diag) {
	t.Helper()
	in := "[Service]\nExecStart=/bin/true\n" + strings.Join(lines, "\n") + "\n"
	u, diags, err := Parse("h.service", "h.service", strings.NewReader(in))
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	return u, diags
}

// wantDiag checks that exactly one diagnostic came, at file:line, containing frag.
func wantDiag(t *testing.T, diags []Diag, line int, frag string) {
	t.Helper()
	if len(diags) != 1 || diags[0].Line != line || !strings.Contains(diags[0].String(), "h.service:") ||
		!strings.Contains(diags[0].Msg, frag) {
		t.Errorf("diags %v: want one at h.service:%d containing %q", diags, line, frag)
	}
}

func caps(names ...int) uint64 {
	var m uint64
	for _, n := range names {
		m |= 1 << n
	}
	return m
}

func TestNoSandboxKeys(t *testing.T) {
	u, _ := parseService(t, "User=daemon")
	if u.Sandbox.Active() || u.MemoryMax != nil || u.TasksMax != nil {
		t.Errorf("a unit without sandbox keys: %+v", u.Sandbox)
	}
}

func TestNoNewPrivileges(t *testing.T) {
	u, diags := parseService(t, "NoNewPrivileges=yes")
	if !u.Sandbox.NoNewPrivileges || !u.Sandbox.Active() || u.Sandbox.NeedsMounts() || len(diags) != 0 {
		t.Errorf("%+v %v", u.Sandbox, diags)
	}
	u, diags = parseService(t, "NoNewPrivileges=yes", "NoNewPrivileges=maybe")
	if !u.Sandbox.NoNewPrivileges {
		t.Error("a bad value replaced the good one")
	}
	wantDiag(t, diags, 4, `NoNewPrivileges="maybe": want yes or no`)
}

func TestProtectSystem(t *testing.T) {
	for v, want := range map[string]string{"yes": "yes", "true": "yes", "full": "full", "strict": "strict", "no": ""} {
		u, diags := parseService(t, "ProtectSystem="+v)
		if u.Sandbox.ProtectSystem != want || len(diags) != 0 {
			t.Errorf("ProtectSystem=%s: %q %v", v, u.Sandbox.ProtectSystem, diags)
		}
	}
	u, diags := parseService(t, "ProtectSystem=strict", "ProtectSystem=read-only")
	if u.Sandbox.ProtectSystem != "strict" || !u.Sandbox.NeedsMounts() {
		t.Errorf("%+v", u.Sandbox)
	}
	wantDiag(t, diags, 4, `want yes, no, full, strict`)
}

func TestProtectHome(t *testing.T) {
	for v, want := range map[string]string{"yes": "yes", "read-only": "read-only", "tmpfs": "tmpfs", "off": ""} {
		if u, diags := parseService(t, "ProtectHome="+v); u.Sandbox.ProtectHome != want || len(diags) != 0 {
			t.Errorf("ProtectHome=%s: %q %v", v, u.Sandbox.ProtectHome, diags)
		}
	}
	_, diags := parseService(t, "ProtectHome=strict")
	wantDiag(t, diags, 3, `want yes, no, read-only, tmpfs`)
}

func TestPrivateTmpAndDevices(t *testing.T) {
	u, diags := parseService(t, "PrivateTmp=yes", "PrivateDevices=true")
	if !u.Sandbox.PrivateTmp || !u.Sandbox.PrivateDevices || !u.Sandbox.NeedsMounts() || len(diags) != 0 {
		t.Errorf("%+v %v", u.Sandbox, diags)
	}
	_, diags = parseService(t, "PrivateTmp=always")
	wantDiag(t, diags, 3, `PrivateTmp="always"`)
	_, diags = parseService(t, "PrivateDevices=2")
	wantDiag(t, diags, 3, `PrivateDevices="2"`)
}

func TestReadWritePaths(t *testing.T) {
	u, diags := parseService(t, "ReadWritePaths=/var/lib/a -/var/lib/missing", `ReadWritePaths="/srv/with space"`,
		"ReadOnlyPaths=/etc/x")
	if want := []string{"/var/lib/a", "-/var/lib/missing", "/srv/with space"}; !reflect.DeepEqual(u.Sandbox.ReadWritePaths, want) || len(diags) != 0 {
		t.Errorf("ReadWritePaths %q %v, want %q", u.Sandbox.ReadWritePaths, diags, want)
	}
	if !reflect.DeepEqual(u.Sandbox.ReadOnlyPaths, []string{"/etc/x"}) {
		t.Errorf("ReadOnlyPaths %q", u.Sandbox.ReadOnlyPaths)
	}
	u, diags = parseService(t, "ReadWritePaths=/a", "ReadWritePaths=", "ReadWritePaths=relative /b /c/../d")
	if !reflect.DeepEqual(u.Sandbox.ReadWritePaths, []string{"/b"}) {
		t.Errorf("after a reset: %q", u.Sandbox.ReadWritePaths)
	}
	if len(diags) != 2 || diags[0].Line != 5 || !strings.Contains(diags[0].Msg, `"relative"`) || !strings.Contains(diags[1].Msg, `"/c/../d"`) {
		t.Errorf("diags %v", diags)
	}
}

func TestUserGroupWithSandbox(t *testing.T) {
	u, diags := parseService(t, "User=sshd", "Group=nogroup", "NoNewPrivileges=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE")
	if u.User != "sshd" || u.Group != "nogroup" || u.Sandbox.Ambient != caps(unix.CAP_NET_BIND_SERVICE) || len(diags) != 0 {
		t.Errorf("%+v %v", u, diags)
	}
}

func TestCapabilityBoundingSet(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  uint64
	}{
		{[]string{"CapabilityBoundingSet=CAP_NET_RAW CAP_SETUID"}, caps(unix.CAP_NET_RAW, unix.CAP_SETUID)},
		// Lines merge by OR; a "~" line is AND'd with its complement.
		{[]string{"CapabilityBoundingSet=CAP_NET_RAW", "CapabilityBoundingSet=cap_chown"}, caps(unix.CAP_NET_RAW, unix.CAP_CHOWN)},
		{[]string{"CapabilityBoundingSet=~CAP_SYS_ADMIN CAP_NET_RAW"}, AllCaps &^ caps(unix.CAP_SYS_ADMIN, unix.CAP_NET_RAW)},
		{[]string{"CapabilityBoundingSet=CAP_NET_RAW CAP_CHOWN", "CapabilityBoundingSet=~CAP_NET_RAW"}, caps(unix.CAP_CHOWN)},
		// An empty value resets to the empty set.
		{[]string{"CapabilityBoundingSet=CAP_NET_RAW", "CapabilityBoundingSet="}, 0},
	} {
		u, diags := parseService(t, c.lines...)
		if !u.Sandbox.HasBound || u.Sandbox.Bound != c.want || len(diags) != 0 {
			t.Errorf("%q: %#x %v, want %#x", c.lines, u.Sandbox.Bound, diags, c.want)
		}
	}
	u, diags := parseService(t, "CapabilityBoundingSet=CAP_CHOWN", "CapabilityBoundingSet=CAP_FLY")
	if u.Sandbox.Bound != caps(unix.CAP_CHOWN) {
		t.Errorf("a bad line changed the set: %#x", u.Sandbox.Bound)
	}
	wantDiag(t, diags, 4, `unknown capability "CAP_FLY"`)
	if AllCaps != caps(unix.CAP_LAST_CAP+1)-1 || CapName(unix.CAP_CHECKPOINT_RESTORE) != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("the table ends at %s, unix.CAP_LAST_CAP is %d", CapName(len(capNames)-1), unix.CAP_LAST_CAP)
	}
}

func TestAmbientCapabilities(t *testing.T) {
	u, diags := parseService(t, "AmbientCapabilities=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_RAW")
	if u.Sandbox.Ambient != caps(unix.CAP_NET_BIND_SERVICE, unix.CAP_NET_RAW) || u.Sandbox.HasBound || len(diags) != 0 {
		t.Errorf("%#x %v", u.Sandbox.Ambient, diags)
	}
	u, _ = parseService(t, "AmbientCapabilities=~CAP_SYS_ADMIN")
	if u.Sandbox.Ambient != AllCaps&^caps(unix.CAP_SYS_ADMIN) {
		t.Errorf("~: %#x", u.Sandbox.Ambient)
	}
	_, diags = parseService(t, "AmbientCapabilities=NET_RAW")
	wantDiag(t, diags, 3, `unknown capability "NET_RAW"`)
}

func TestRestrictAddressFamilies(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  *Families
	}{
		{[]string{"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"}, &Families{List: []int{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6}}},
		{[]string{"RestrictAddressFamilies=~AF_PACKET AF_NETLINK"}, &Families{Deny: true, List: []int{unix.AF_NETLINK, unix.AF_PACKET}}},
		{[]string{"RestrictAddressFamilies=none"}, &Families{}},
		// An allow list, then a deny line: the denied leave the allow list.
		{[]string{"RestrictAddressFamilies=AF_UNIX AF_INET", "RestrictAddressFamilies=~AF_INET"}, &Families{List: []int{unix.AF_UNIX}}},
		{[]string{"RestrictAddressFamilies=AF_UNIX", "RestrictAddressFamilies=AF_INET"}, &Families{List: []int{unix.AF_UNIX, unix.AF_INET}}},
		{[]string{"RestrictAddressFamilies=AF_UNIX", "RestrictAddressFamilies="}, nil},
	} {
		u, diags := parseService(t, c.lines...)
		if !reflect.DeepEqual(u.Sandbox.Families, c.want) || len(diags) != 0 {
			t.Errorf("%q: %+v %v, want %+v", c.lines, u.Sandbox.Families, diags, c.want)
		}
	}
	f := &Families{List: []int{unix.AF_UNIX}}
	if !f.Allows(unix.AF_UNIX) || f.Allows(unix.AF_PACKET) || (&Families{Deny: true, List: []int{unix.AF_PACKET}}).Allows(unix.AF_PACKET) ||
		(&Families{}).Allows(unix.AF_UNIX) || !(*Families)(nil).Allows(unix.AF_PACKET) {
		t.Error("Allows")
	}
	_, diags := parseService(t, "RestrictAddressFamilies=AF_UNIX AF_CARRIER_PIGEON")
	wantDiag(t, diags, 3, `unknown address family "AF_CARRIER_PIGEON"`)
}

func TestMemoryMaxTasksMax(t *testing.T) {
	for _, c := range []struct {
		line string
		mem  *Limit
		want string // Resolve(1000)
	}{
		{"MemoryMax=64M", &Limit{Value: 64 << 20}, "67108864"},
		{"MemoryMax=1G", &Limit{Value: 1 << 30}, "1073741824"},
		{"MemoryMax=4096", &Limit{Value: 4096}, "4096"},
		{"MemoryMax=50%", &Limit{Percent: 50}, "500"},
		{"MemoryMax=infinity", &Limit{Infinity: true}, "max"},
	} {
		u, diags := parseService(t, c.line)
		if !reflect.DeepEqual(u.MemoryMax, c.mem) || len(diags) != 0 || u.MemoryMax.Resolve(1000) != c.want {
			t.Errorf("%s: %+v %v", c.line, u.MemoryMax, diags)
		}
	}
	u, diags := parseService(t, "TasksMax=16", "MemoryMax=64M")
	if !reflect.DeepEqual(u.TasksMax, &Limit{Value: 16}) || len(diags) != 0 || u.Sandbox.Active() {
		t.Errorf("TasksMax %+v %v (limits alone need no helper)", u.TasksMax, diags)
	}
	for _, bad := range []string{"TasksMax=16K", "TasksMax=0", "MemoryMax=lots", "MemoryMax=150%", "MemoryMax=-1"} {
		_, diags := parseService(t, bad)
		k, v, _ := strings.Cut(bad, "=")
		wantDiag(t, diags, 3, k+`="`+v+`"`)
	}
}
