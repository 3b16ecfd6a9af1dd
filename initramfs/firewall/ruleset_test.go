package firewall

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// inNewNetns runs f on a locked OS thread moved into a new network namespace (the host's is left
// alone), with a connection to that namespace's nf_tables. f runs on that thread, not the test's goroutine:
// it reports with t.Error and returns.
func inNewNetns(t *testing.T, f func(conn *nftables.Conn)) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a new network namespace and nf_tables changes need CAP_SYS_ADMIN and CAP_NET_ADMIN")
	}
	skip := make(chan string, 1)
	go func() {
		defer close(skip)
		runtime.LockOSThread() // never unlocked: the thread ends in the new namespace and exits with the goroutine
		ns, err := netns.New()
		if err != nil {
			t.Errorf("new network namespace: %v", err)
			return
		}
		defer ns.Close()
		conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
		if err != nil {
			t.Errorf("nftables: %v", err)
			return
		}
		if _, err := conn.ListTables(); err != nil {
			if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || strings.Contains(err.Error(), "not supported") {
				skip <- "nf_tables missing in this host's kernel: " + err.Error()
				return
			}
			t.Errorf("list tables: %v", err)
			return
		}
		f(conn)
	}()
	if why := <-skip; why != "" {
		t.Skip(why)
	}
}

func TestApplyReadBack(t *testing.T) {
	inNewNetns(t, func(conn *nftables.Conn) {
		c := Config{Enabled: true, Allow: []Port{{"tcp", 22}, {"tcp", 8443}, {"udp", 53}}}
		// Twice: the second replaces the first (no duplicate rules).
		for range 2 {
			if err := Apply(conn, c); err != nil {
				t.Error(err)
				return
			}
		}
		tab, err := conn.ListTableOfFamily(TableName, nftables.TableFamilyINet)
		if err != nil {
			t.Errorf("table inet %s: %v", TableName, err)
			return
		}
		chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			t.Error(err)
			return
		}
		policies := map[string]nftables.ChainPolicy{}
		hooks := map[string]nftables.ChainHook{}
		for _, ch := range chains {
			if ch.Table.Name == TableName {
				policies[ch.Name], hooks[ch.Name] = *ch.Policy, *ch.Hooknum
			}
		}
		want := map[string]nftables.ChainPolicy{"input": nftables.ChainPolicyDrop, "forward": nftables.ChainPolicyDrop, "output": nftables.ChainPolicyAccept}
		for name, p := range want {
			if got, ok := policies[name]; !ok || got != p {
				t.Errorf("chain %s: policy %v (present %v), want %v", name, got, ok, p)
			}
		}
		if hooks["input"] != *nftables.ChainHookInput || hooks["forward"] != *nftables.ChainHookForward || hooks["output"] != *nftables.ChainHookOutput {
			t.Errorf("hooks %v", hooks)
		}
		rules, err := conn.GetRules(tab, &nftables.Chain{Name: "input", Table: tab})
		if err != nil {
			t.Error(err)
			return
		}
		// lo, established/related, invalid, 5 ICMPv6, 2 ICMPv4, 3 ports, the counter
		if len(rules) != 3+5+2+3+1 {
			t.Errorf("%d input rules, want 14", len(rules))
			return
		}
		// What security-dashboard reads: the input hook's base chains, whoever made them.
		ins, err := Inputs(conn)
		if err != nil {
			t.Error(err)
			return
		}
		if len(ins) != 1 || ins[0] != (InputChain{Table: "inet " + TableName, Chain: "input", Policy: "drop", Rules: 14}) {
			t.Errorf("Inputs = %+v, want the genai table's input chain, policy drop, 14 rules", ins)
		}
		ports := map[string]bool{}
		var accepts, drops int
		for _, r := range rules {
			var proto byte
			for _, e := range r.Exprs {
				switch e := e.(type) {
				case *expr.Cmp:
					if len(e.Data) == 1 {
						proto = e.Data[0]
					}
					if len(e.Data) == 2 && (proto == protoTCP || proto == protoUDP) {
						name := map[byte]string{protoTCP: "tcp", protoUDP: "udp"}[proto]
						ports[Port{name, binary.BigEndian.Uint16(e.Data)}.String()] = true
					}
					if len(e.Data) == unix.IFNAMSIZ && !bytes.HasPrefix(e.Data, []byte("lo\x00")) {
						t.Errorf("interface match %q", e.Data)
					}
				case *expr.Verdict:
					switch e.Kind {
					case expr.VerdictAccept:
						accepts++
					case expr.VerdictDrop:
						drops++
					}
				}
			}
		}
		for _, p := range c.Allow {
			if !ports[p.String()] {
				t.Errorf("no rule for %s (read back: %v)", p, ports)
			}
		}
		if accepts != 12 || drops != 1 {
			t.Errorf("%d accept and %d drop verdicts, want 12 and 1", accepts, drops)
		}

		// Forwarding: on first, then off (this thread's /proc/sys/net is the new namespace's).
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			t.Error(err)
			return
		}
		if err := ForwardingOff("/proc/sys"); err != nil {
			t.Error(err)
			return
		}
		for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
			if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "0" {
				t.Errorf("%s = %q", p, b)
			}
		}
	})
}
