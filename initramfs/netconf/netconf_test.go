package netconf

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

func TestPick(t *testing.T) {
	eth := func(name string, idx int, carrier bool) Candidate {
		return Candidate{Name: name, Index: idx, Ether: true, Device: true, Carrier: carrier}
	}
	for _, tc := range []struct {
		name  string
		cands []Candidate
		want  string // network.interface
		got   string
		ok    bool
	}{
		{"nothing yet", nil, "", "", false},
		{"first wired with carrier", []Candidate{eth("enp0s3", 3, true), eth("enp0s2", 2, true)}, "", "enp0s2", true},
		{"no carrier on the first", []Candidate{eth("enp0s2", 2, false), eth("enp0s3", 3, true)}, "", "enp0s3", true},
		{"no carrier anywhere", []Candidate{eth("enp0s2", 2, false)}, "", "", false},
		{"virtual and wireless are not wired", []Candidate{
			{Name: "br0", Index: 2, Ether: true, Carrier: true},
			{Name: "wlan0", Index: 3, Ether: true, Device: true, Wireless: true, Carrier: true},
			eth("eth0", 4, true)}, "", "eth0", true},
		{"named, without carrier", []Candidate{eth("eth0", 2, true), eth("eth1", 3, false)}, "eth1", "eth1", true},
		{"named, absent", []Candidate{eth("eth0", 2, true)}, "eth1", "", false},
	} {
		got, ok := Pick(tc.cands, tc.want)
		if got != tc.got || ok != tc.ok {
			t.Errorf("%s: Pick = %q %v, want %q %v", tc.name, got, ok, tc.got, tc.ok)
		}
	}
}

// QEMU's user network (slirp) answers like this.
func slirpAck(t *testing.T, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	base := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(10, 0, 2, 2)),
		dhcpv4.WithDNS(net.IPv4(10, 0, 2, 3)),
		dhcpv4.WithLeaseTime(86400),
	}
	ack, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

func TestFromLease(t *testing.T) {
	r, err := FromLease(slirpAck(t))
	if err != nil {
		t.Fatal(err)
	}
	r.Iface = "eth0"
	if got, want := r.String(), "iface=eth0 addr=10.0.2.15/24 gw=10.0.2.2 via=dhcp"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(r.DNS) != 1 || r.DNS[0] != netip.MustParseAddr("10.0.2.3") || r.Lease != 24*time.Hour {
		t.Errorf("dns %v lease %s", r.DNS, r.Lease)
	}

	// RFC 3442: classless routes replace the Router option; 0.0.0.0/0 is the default route.
	r, err = FromLease(slirpAck(t, dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(
		&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(0, 0, 0, 0).To4(), Mask: net.CIDRMask(0, 32)}, Router: net.IPv4(10, 0, 2, 1)},
		&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(192, 168, 0, 0).To4(), Mask: net.CIDRMask(16, 32)}, Router: net.IPv4(10, 0, 2, 9)},
	)), dhcpv4.WithOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: []string{"example.org"}}))))
	if err != nil {
		t.Fatal(err)
	}
	if r.Gateway != netip.MustParseAddr("10.0.2.1") || len(r.Routes) != 1 ||
		r.Routes[0] != (Route{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParseAddr("10.0.2.9")}) {
		t.Errorf("gw %s routes %v", r.Gateway, r.Routes)
	}
	if len(r.Search) != 1 || r.Search[0] != "example.org" {
		t.Errorf("search %v", r.Search)
	}

	if _, err := FromLease(slirpAck(t, dhcpv4.WithYourIP(net.IPv4zero))); err == nil {
		t.Error("want an error for an ACK without an address")
	}
}

func TestResolvConf(t *testing.T) {
	got := string(ResolvConf([]netip.Addr{netip.MustParseAddr("10.0.2.3"), netip.MustParseAddr("1.1.1.1")}, []string{"a.org", "b.org"}))
	want := "# written by consciousness-init from boot.conf or DHCP\nnameserver 10.0.2.3\nnameserver 1.1.1.1\nsearch a.org b.org\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestResultStringNoGateway(t *testing.T) {
	r := Result{Iface: "eth0", Addr: netip.MustParsePrefix("192.168.1.5/24"), Via: "static"}
	if got := r.String(); got != "iface=eth0 addr=192.168.1.5/24 gw=none via=static" {
		t.Error(got)
	}
}
