package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the one inet table the init owns.
const TableName = "genai"

// Modules are the kernel modules the ruleset needs, by name, in the order they must load, beside
// their dependencies (which the builder resolves from .modinfo depends=: nfnetlink, libcrc32c,
// nf_conntrack, nf_defrag_ipv4, nf_defrag_ipv6). Debian's kernel has NF_TABLES=m and no modprobe
// for the kernel to call, so the init loads them before it applies the ruleset. crc32c_generic is
// libcrc32c's "softdep=pre: crc32c" (its init asks the crypto API for crc32c, which would
// request_module it): without it libcrc32c fails with ENOENT. meta, payload, cmp, bitwise,
// immediate and counter are built into nf_tables.ko; ct is nft_ct.ko.
var Modules = []string{"crc32c_generic", "nf_tables", "nft_ct"}

// IANA protocol numbers (meta l4proto) and ICMP types (RFC 792, RFC 4443, RFC 4861).
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58

	icmpDestUnreach  = 3 // code 4: fragmentation needed (RFC 1191 path MTU)
	icmpFragNeeded   = 4
	icmpEchoRequest  = 8
	icmp6EchoRequest = 128
	icmp6RouterSol   = 133
	icmp6RouterAdv   = 134
	icmp6NeighSol    = 135
	icmp6NeighAdv    = 136
)

// Ruleset is the table and chains Add puts on a connection (for tests and the read-back).
type Ruleset struct {
	Table                  *nftables.Table
	Input, Forward, Output *nftables.Chain
}

// Add queues the ruleset for c on conn (the caller Flushes): the table genai (inet: IPv4 and IPv6)
// replaced as a whole in one batch, with
//   - input, policy drop: accept lo, ct state established,related; drop ct state invalid; accept
//     ICMPv6 echo request and neighbour discovery (RS, RA, NS, NA), ICMPv4 echo request and
//     fragmentation needed; accept the allowed ports; count what falls through to the policy;
//   - forward, policy drop;
//   - output, policy accept.
func Add(conn *nftables.Conn, c Config) Ruleset {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	// add, delete, add: one batch that replaces an existing table and creates a missing one.
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	drop, accept := nftables.ChainPolicyDrop, nftables.ChainPolicyAccept
	chain := func(name string, hook *nftables.ChainHook, policy *nftables.ChainPolicy) *nftables.Chain {
		return conn.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: policy})
	}
	rs := Ruleset{Table: t,
		Input:   chain("input", nftables.ChainHookInput, &drop),
		Forward: chain("forward", nftables.ChainHookForward, &drop),
		Output:  chain("output", nftables.ChainHookOutput, &accept)}
	for _, exprs := range inputRules(c) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: rs.Input, Exprs: exprs})
	}
	return rs
}

func inputRules(c Config) [][]expr.Any {
	acceptV := &expr.Verdict{Kind: expr.VerdictAccept}
	ctState := func(bits uint32, v expr.VerdictKind) []expr.Any {
		return []expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Verdict{Kind: v},
		}
	}
	l4 := func(proto byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		}
	}
	// transport header bytes at offset off equal data
	th := func(off uint32, data []byte) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: uint32(len(data))},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data},
		}
	}
	join := func(parts ...[]expr.Any) []expr.Any {
		var out []expr.Any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	rules := [][]expr.Any{
		{ // iifname "lo" accept (IFNAMSIZ bytes, NUL padded, as nft compares names)
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")},
			acceptV,
		},
		ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED, expr.VerdictAccept),
		ctState(expr.CtStateBitINVALID, expr.VerdictDrop),
	}
	for _, typ := range []byte{icmp6EchoRequest, icmp6RouterSol, icmp6RouterAdv, icmp6NeighSol, icmp6NeighAdv} {
		rules = append(rules, join(l4(protoICMPv6), th(0, []byte{typ}), []expr.Any{acceptV}))
	}
	rules = append(rules,
		join(l4(protoICMP), th(0, []byte{icmpEchoRequest}), []expr.Any{acceptV}),
		join(l4(protoICMP), th(0, []byte{icmpDestUnreach, icmpFragNeeded}), []expr.Any{acceptV}))
	for _, p := range c.Allow {
		proto := byte(protoTCP)
		if p.Proto == "udp" {
			proto = protoUDP
		}
		// the destination port: bytes 2-3 of the TCP and UDP headers (RFC 9293, RFC 768)
		rules = append(rules, join(l4(proto), th(2, binary.BigEndian.AppendUint16(nil, p.Num)), []expr.Any{acceptV}))
	}
	// What reaches the policy is counted (nft list table inet genai shows it).
	rules = append(rules, []expr.Any{&expr.Counter{}})
	return rules
}

func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// Apply replaces the genai table with c's ruleset in the network namespace of conn, in one
// transaction: either all of it is in place or none (nf_tables' batches are atomic).
func Apply(conn *nftables.Conn, c Config) error {
	Add(conn, c)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// ForwardingOff writes 0 to IPv4's ip_forward and IPv6's conf/all/forwarding under procSys (the
// /proc/sys of the network namespace to change, as seen by the calling thread). An IPv6 stack that
// is not there (ipv6.disable=1) is not an error.
func ForwardingOff(procSys string) error {
	var errs []error
	for _, p := range []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"} {
		err := os.WriteFile(filepath.Join(procSys, p), []byte("0\n"), 0o644)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && strings.Contains(p, "ipv6")) {
			errs = append(errs, fmt.Errorf("forwarding off: %w", err))
		}
	}
	return errors.Join(errs...)
}

// InputChain is one base chain on the input hook, as the kernel holds it.
type InputChain struct {
	Table  string // family and name, e.g. "inet genai"
	Chain  string
	Policy string // "drop" or "accept"
	Rules  int
}

// Inputs lists the kernel's base chains on the input hook in conn's network namespace, whoever
// made them: what filters inbound traffic now (security-dashboard reads it).
func Inputs(conn *nftables.Conn) ([]InputChain, error) {
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	families := map[nftables.TableFamily]string{nftables.TableFamilyINet: "inet", nftables.TableFamilyIPv4: "ip",
		nftables.TableFamilyIPv6: "ip6", nftables.TableFamilyBridge: "bridge", nftables.TableFamilyARP: "arp", nftables.TableFamilyNetdev: "netdev"}
	var out []InputChain
	for _, ch := range chains {
		if ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookInput || ch.Table == nil {
			continue
		}
		ic := InputChain{Table: families[ch.Table.Family] + " " + ch.Table.Name, Chain: ch.Name, Policy: "accept"}
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			ic.Policy = "drop"
		}
		rules, err := conn.GetRules(ch.Table, ch)
		if err != nil {
			return nil, fmt.Errorf("nftables: rules of %s %s: %w", ic.Table, ch.Name, err)
		}
		ic.Rules = len(rules)
		out = append(out, ic)
	}
	return out, nil
}
