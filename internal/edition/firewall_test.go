package edition

import (
	"slices"
	"strings"
	"testing"
)

func TestMergeFirewall(t *testing.T) {
	on, off := true, false
	parent := Edition{Name: "server", Firewall: Firewall{Enabled: &on, AllowTCP: []int{22}}}
	got := Merge(parent, Edition{Name: "ent", Firewall: Firewall{AllowTCP: []int{443, 22}, AllowUDP: []int{53}}})
	if !got.Firewall.On() || !slices.Equal(got.Firewall.AllowTCP, []int{22, 443}) || !slices.Equal(got.Firewall.AllowUDP, []int{53}) {
		t.Errorf("merged firewall %+v", got.Firewall)
	}
	got = Merge(parent, Edition{Name: "open", Firewall: Firewall{Enabled: &off}})
	if got.Firewall.On() {
		t.Errorf("the child's enabled: false did not win: %+v", got.Firewall)
	}
	if (Firewall{}).On() {
		t.Error("an unset firewall is on")
	}
}

func TestLoadFirewall(t *testing.T) {
	e, err := repo(t, map[string]string{"base": goodBase, "server": "name: server\nextends: base\nfirewall:\n  enabled: true\n  allow_tcp: [22, 8443]\n"}).Load("server")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Firewall.On() || !slices.Equal(e.Firewall.AllowTCP, []int{22, 8443}) {
		t.Errorf("firewall %+v", e.Firewall)
	}
	_, err = repo(t, map[string]string{"base": goodBase, "server": "name: server\nextends: base\nfirewall:\n  enabled: true\n  allow_tcp: [0, 22]\n  allow_udp: [70000]\n  allow_icmp: yes\n"}).Load("server")
	for _, w := range []string{"server.yaml:7:", `"allow_icmp" is not a known field`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v, want %q", err, w)
		}
	}
	_, err = repo(t, map[string]string{"base": goodBase, "server": "name: server\nextends: base\nfirewall:\n  enabled: true\n  allow_tcp: [0, 22]\n  allow_udp: [70000]\n"}).Load("server")
	for _, w := range []string{"server.yaml:5: firewall.allow_tcp: 0 is not a port", "server.yaml:6: firewall.allow_udp: 70000 is not a port"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v, want %q", err, w)
		}
	}
	_, err = repo(t, map[string]string{"base": goodBase, "server": "name: server\nextends: base\nfirewall:\n  allow_tcp: [22]\n"}).Load("server")
	if err == nil || !strings.Contains(err.Error(), "server.yaml:4: firewall.allow_tcp: ports are allowed only by an enabled firewall") {
		t.Errorf("error %v", err)
	}
}
