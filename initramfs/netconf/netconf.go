// Package netconf configures the network at boot from boot.conf's network.*
// keys: DHCPv4 on the first wired interface that has a link (the default), a
// static address, or nothing. It writes /etc/resolv.conf.
//
// The NIC's driver loads in the background (coldplug), so Up first waits, for
// a bounded time, for an interface to appear.
package netconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// Result is what was configured.
type Result struct {
	Iface   string
	Addr    netip.Prefix
	Gateway netip.Addr // invalid when there is no default route
	DNS     []netip.Addr
	Search  []string
	Via     string        // "dhcp" or "static"
	Lease   time.Duration // DHCP lease time; 0 for static
	Routes  []Route       // DHCP classless static routes (RFC 3442), which replace the router option
}

// Route is a route to Dst via Gw (Gw invalid: on-link).
type Route struct {
	Dst netip.Prefix
	Gw  netip.Addr
}

// String is the console line's fields.
func (r Result) String() string {
	gw := "none"
	if r.Gateway.IsValid() {
		gw = r.Gateway.String()
	}
	return fmt.Sprintf("iface=%s addr=%s gw=%s via=%s", r.Iface, r.Addr, gw, r.Via)
}

// ErrOff is returned by Up when network.mode is off.
var ErrOff = errors.New("network.mode is off")

// ErrNoInterface is returned when no usable interface appeared in time: the
// edition may lack the NIC's driver module (see the "modules loaded" line).
var ErrNoInterface = errors.New("no wired network interface with a link")

// Options tune Up; the zero value is the boot's.
type Options struct {
	Root        string        // where etc/resolv.conf and sys/class/net are; default "/"
	WaitLink    time.Duration // how long to wait for an interface with a link; default 20 s
	DHCPTimeout time.Duration // per DHCP attempt; default 4 s
	DHCPRetries int           // default 4
	Log         *slog.Logger
}

func (o *Options) defaults() {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.WaitLink == 0 {
		o.WaitLink = 20 * time.Second
	}
	if o.DHCPTimeout == 0 {
		o.DHCPTimeout = 4 * time.Second
	}
	if o.DHCPRetries == 0 {
		o.DHCPRetries = 4
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Up configures the network as c says and returns what it did. For DHCP it
// also returns a renew function that keeps the lease (run it in its own
// goroutine; it returns when ctx ends); it is nil otherwise.
func Up(ctx context.Context, c bootconf.Network, o Options) (Result, func(), error) {
	o.defaults()
	switch c.Mode {
	case "off":
		return Result{}, nil, ErrOff
	case "static":
		if !c.Address.IsValid() {
			return Result{}, nil, errors.New("network.mode static needs network.address")
		}
	case "", "dhcp":
	default:
		return Result{}, nil, fmt.Errorf("network.mode %q: want dhcp, static or off", c.Mode)
	}
	link, err := waitLink(ctx, c.Interface, o)
	if err != nil {
		return Result{}, nil, err
	}
	name := link.Attrs().Name
	if c.Mode == "static" {
		r := Result{Iface: name, Addr: c.Address, Gateway: c.Gateway, DNS: c.DNS, Search: c.Search, Via: "static"}
		if err := apply(link, r, o.Root); err != nil {
			return r, nil, err
		}
		return r, nil, nil
	}
	ack, err := dhcp(ctx, name, o)
	if err != nil {
		return Result{Iface: name}, nil, fmt.Errorf("dhcp on %s: %w", name, err)
	}
	r, err := FromLease(ack)
	if err != nil {
		return Result{Iface: name}, nil, fmt.Errorf("dhcp on %s: %w", name, err)
	}
	r.Iface = name
	if len(c.DNS) > 0 { // boot.conf's resolvers win over the server's
		r.DNS = c.DNS
	}
	if len(c.Search) > 0 {
		r.Search = c.Search
	}
	if err := apply(link, r, o.Root); err != nil {
		return r, nil, err
	}
	renew := func() { keepLease(ctx, link, c, r, o) }
	return r, renew, nil
}

// keepLease asks again at half the lease time (RFC 2131 section 4.4.5, T1)
// and applies the answer; on failure it retries at half the time left.
func keepLease(ctx context.Context, link netlink.Link, c bootconf.Network, r Result, o Options) {
	left := r.Lease
	if left <= 0 {
		return // infinite lease
	}
	for {
		wait := max(left/2, 10*time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		left -= wait
		ack, err := dhcp(ctx, r.Iface, o)
		var nr Result
		if err == nil {
			nr, err = FromLease(ack)
		}
		if err != nil {
			o.Log.Warn("dhcp renew", "iface", r.Iface, "err", err)
			continue
		}
		nr.Iface = r.Iface
		if len(c.DNS) > 0 {
			nr.DNS = c.DNS
		}
		if len(c.Search) > 0 {
			nr.Search = c.Search
		}
		if err := apply(link, nr, o.Root); err != nil {
			o.Log.Warn("dhcp renew", "iface", r.Iface, "err", err)
			continue
		}
		if nr.Addr != r.Addr {
			o.Log.Info("dhcp address changed", "iface", r.Iface, "old", r.Addr.String(), "new", nr.Addr.String())
			_ = netlink.AddrDel(link, &netlink.Addr{IPNet: ipNet(r.Addr)})
		}
		r, left = nr, nr.Lease
	}
}

// Candidate is an interface as waitLink sees it.
type Candidate struct {
	Name     string
	Index    int
	Ether    bool // ARPHRD_ETHER (linux/if_arp.h)
	Device   bool // backed by a device (/sys/class/net/<name>/device), not virtual
	Wireless bool // /sys/class/net/<name>/wireless exists
	Carrier  bool
}

// Wired reports whether c is a physical wired Ethernet interface.
func (c Candidate) Wired() bool { return c.Ether && c.Device && !c.Wireless && c.Name != "lo" }

// Pick returns the interface to configure: the named one when want is set
// (carrier or not: an explicit choice), else the wired interface with a carrier
// that has the lowest index. ok is false when there is none yet.
func Pick(cands []Candidate, want string) (name string, ok bool) {
	slices.SortFunc(cands, func(a, b Candidate) int { return a.Index - b.Index })
	for _, c := range cands {
		if want != "" {
			if c.Name == want {
				return c.Name, true
			}
			continue
		}
		if c.Wired() && c.Carrier {
			return c.Name, true
		}
	}
	return "", false
}

// waitLink brings wired interfaces up as they appear and returns the one Pick
// chooses, waiting at most o.WaitLink.
func waitLink(ctx context.Context, want string, o Options) (netlink.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, o.WaitLink)
	defer cancel()
	upped := map[string]bool{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var seen []string
	for {
		links, err := netlink.LinkList()
		if err != nil {
			return nil, fmt.Errorf("listing links: %w", err)
		}
		var cands []Candidate
		byName := map[string]netlink.Link{}
		seen = seen[:0]
		for _, l := range links {
			a := l.Attrs()
			sysd := filepath.Join(o.Root, "sys/class/net", a.Name)
			c := Candidate{Name: a.Name, Index: a.Index, Ether: a.EncapType == "ether",
				Device: exists(filepath.Join(sysd, "device")), Wireless: exists(filepath.Join(sysd, "wireless"))}
			if a.Name == "lo" {
				continue
			}
			seen = append(seen, a.Name)
			if (c.Wired() || a.Name == want) && !upped[a.Name] && a.Flags&net.FlagUp == 0 {
				if err := netlink.LinkSetUp(l); err != nil {
					o.Log.Warn("link up", "iface", a.Name, "err", err)
				}
				upped[a.Name] = true
			}
			c.Carrier = a.OperState == netlink.OperUp || readTrim(filepath.Join(sysd, "carrier")) == "1"
			cands = append(cands, c)
			byName[a.Name] = l
		}
		if name, ok := Pick(cands, want); ok {
			l := byName[name]
			if l.Attrs().Flags&net.FlagUp == 0 {
				if err := netlink.LinkSetUp(l); err != nil {
					return nil, fmt.Errorf("%s: link up: %w", name, err)
				}
			}
			return l, nil
		}
		select {
		case <-ctx.Done():
			if want != "" {
				return nil, fmt.Errorf("interface %s did not appear in %s (have %v): %w", want, o.WaitLink, seen, ErrNoInterface)
			}
			return nil, fmt.Errorf("waited %s (have %v): %w", o.WaitLink, seen, ErrNoInterface)
		case <-tick.C:
		}
	}
}

func dhcp(ctx context.Context, iface string, o Options) (*dhcpv4.DHCPv4, error) {
	useXIDReader()
	cl, err := nclient4.New(iface, nclient4.WithTimeout(o.DHCPTimeout), nclient4.WithRetry(o.DHCPRetries))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	hostname, _ := os.Hostname()
	mods := []dhcpv4.Modifier{dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
		dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName, dhcpv4.OptionDNSDomainSearchList,
		dhcpv4.OptionClasslessStaticRoute)}
	if hostname != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(hostname)))
	}
	lease, err := cl.Request(ctx, mods...)
	if err != nil {
		return nil, err
	}
	return lease.ACK, nil
}

// FromLease turns a DHCPACK into a Result (without the interface name).
func FromLease(ack *dhcpv4.DHCPv4) (Result, error) {
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || ip.IsUnspecified() {
		return Result{}, errors.New("the server gave no address")
	}
	bits := 32
	if m := ack.SubnetMask(); m != nil {
		bits, _ = m.Size()
	} else {
		bits = classfulBits(ip) // RFC 2132 section 3.3: the client picks when no mask is given
	}
	r := Result{Addr: netip.PrefixFrom(ip, bits), Via: "dhcp", Lease: ack.IPAddressLeaseTime(0)}
	if routes := ack.ClasslessStaticRoute(); len(routes) > 0 {
		// RFC 3442: with classless routes the Router option is ignored.
		for _, rt := range routes {
			dst, _ := netip.AddrFromSlice(rt.Dest.IP.To4())
			ones, _ := rt.Dest.Mask.Size()
			gw, _ := netip.AddrFromSlice(rt.Router.To4())
			if gw.IsUnspecified() {
				gw = netip.Addr{}
			}
			if ones == 0 {
				r.Gateway = gw
				continue
			}
			r.Routes = append(r.Routes, Route{Dst: netip.PrefixFrom(dst, ones), Gw: gw})
		}
	} else if gws := ack.Router(); len(gws) > 0 {
		r.Gateway, _ = netip.AddrFromSlice(gws[0].To4())
	}
	for _, d := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(d.To4()); ok {
			r.DNS = append(r.DNS, a)
		}
	}
	if sl := ack.DomainSearch(); sl != nil {
		r.Search = sl.Labels
	} else if dn := ack.DomainName(); dn != "" {
		r.Search = []string{dn}
	}
	return r, nil
}

func classfulBits(ip netip.Addr) int {
	switch b := ip.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	}
	return 24
}

// ResolvConf is resolv.conf(5) for r.
func ResolvConf(dns []netip.Addr, search []string) []byte {
	var b strings.Builder
	b.WriteString("# written by consciousness-init from boot.conf or DHCP\n")
	for _, d := range dns {
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	return []byte(b.String())
}

// apply puts r on the link: address, routes, resolv.conf.
func apply(link netlink.Link, r Result, root string) error {
	if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: ipNet(r.Addr)}); err != nil {
		return fmt.Errorf("%s: address %s: %w", r.Iface, r.Addr, err)
	}
	idx := link.Attrs().Index
	for _, rt := range r.Routes {
		nr := &netlink.Route{LinkIndex: idx, Dst: ipNet(rt.Dst)}
		if rt.Gw.IsValid() {
			nr.Gw = rt.Gw.AsSlice()
		} else {
			nr.Scope = netlink.SCOPE_LINK
		}
		if err := netlink.RouteReplace(nr); err != nil {
			return fmt.Errorf("%s: route %s: %w", r.Iface, rt.Dst, err)
		}
	}
	if r.Gateway.IsValid() {
		if err := netlink.RouteReplace(&netlink.Route{LinkIndex: idx, Gw: r.Gateway.AsSlice()}); err != nil {
			return fmt.Errorf("%s: default route via %s: %w", r.Iface, r.Gateway, err)
		}
	}
	if len(r.DNS) > 0 || len(r.Search) > 0 {
		p := filepath.Join(root, "etc/resolv.conf")
		if err := os.WriteFile(p, ResolvConf(r.DNS, r.Search), 0o644); err != nil {
			return fmt.Errorf("resolv.conf: %w", err)
		}
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
