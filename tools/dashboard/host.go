package dashboard

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/google/nftables"

	"github.com/genai-os/genai-build/initramfs/firewall"
	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/genai-os/genai-build/initramfs/unit"
)

// firewallCheck reads the packet filter: nft's or iptables' rules when the tools are there and
// we are root, else which netfilter tables the kernel has loaded.
func firewallCheck(s *System) Finding {
	f := Finding{Section: "firewall", Check: "packet filter"}
	if s.Root == "/" && s.Privileged {
		for _, t := range []struct{ prog, arg string }{{"nft", "list ruleset"}, {"iptables-save", ""}} {
			p := s.findProgram(t.prog)
			if p == "" {
				continue
			}
			out, err := s.run(p, strings.Fields(t.arg)...)
			if err != nil {
				f.Details = append(f.Details, err.Error())
				continue
			}
			rules := 0
			for _, l := range lines(out) {
				if t.prog == "nft" && !strings.HasSuffix(l, "{") && l != "}" && !strings.HasPrefix(l, "type ") ||
					t.prog == "iptables-save" && strings.HasPrefix(l, "-A ") {
					rules++
				}
			}
			f.Data = map[string]string{"tool": t.prog, "rules": fmt.Sprint(rules)}
			if rules == 0 {
				f.Status, f.Reason = Warn, t.prog+": no rules: every listening socket is reachable"
			} else {
				f.Status, f.Reason = Pass, fmt.Sprintf("%s: %d rules", t.prog, rules)
			}
			return f
		}
	}
	// Without nft (our images have none), the kernel's nftables ruleset over netlink.
	unreadable := "no nft or iptables-save, or not root"
	if s.Root == "/" && s.Privileged && s.exists("/sys/module/nf_tables") {
		if ins, err := firewall.Inputs(&nftables.Conn{}); errors.Is(err, syscall.EPERM) {
			// nfnetlink wants CAP_NET_ADMIN even to read (net/netfilter/nfnetlink.c)
			unreadable = "this process lacks CAP_NET_ADMIN, which reading nftables over netlink needs (a hardened service's session, such as sshd's)"
		} else if err != nil {
			unreadable = err.Error()
		} else if len(ins) > 0 {
			drop, rules := false, 0
			var desc []string
			for _, in := range ins {
				drop = drop || in.Policy == "drop"
				rules += in.Rules
				desc = append(desc, fmt.Sprintf("%s %s: policy %s, %d rules", in.Table, in.Chain, in.Policy, in.Rules))
			}
			f.Data = map[string]string{"tool": "netlink", "rules": fmt.Sprint(rules)}
			if drop {
				f.Status, f.Reason = Pass, "nftables, deny by default: "+strings.Join(desc, "; ")
			} else {
				f.Status, f.Reason = Warn, "nftables accepts by default: "+strings.Join(desc, "; ")
			}
			return f
		}
	}
	var loaded []string
	for _, m := range []string{"nf_tables", "ip_tables", "ip6_tables"} {
		if s.exists("/sys/module/" + m) {
			loaded = append(loaded, m)
		}
	}
	if b, err := s.read("/proc/net/ip_tables_names"); err == nil && len(lines(b)) > 0 {
		loaded = append(loaded, "iptables tables "+strings.Join(lines(b), ","))
	}
	f.Data = map[string]string{"tool": "", "rules": "unknown"}
	if len(loaded) == 0 {
		f.Data["rules"] = "0"
		f.Status, f.Reason = Warn, "none: no nftables or iptables in the kernel or the image; every listening socket is reachable"
		return f
	}
	f.Status, f.Reason = Warn, "netfilter loaded ("+strings.Join(loaded, ", ")+") but its rules are unreadable here ("+unreadable+")"
	return f
}

// auditCheck: the kernel's audit support shows as /proc/self/loginuid (CONFIG_AUDIT); records
// are kept only when an audit daemon runs.
func auditCheck(s *System) Finding {
	f := Finding{Section: "audit", Check: "audit"}
	kernel := s.exists("/proc/self/loginuid")
	daemon := ""
	ents, _ := os.ReadDir(s.path("/proc"))
	for _, e := range ents {
		if b, err := s.read("/proc/" + e.Name() + "/comm"); err == nil {
			if c := strings.TrimSpace(string(b)); c == "auditd" || c == "genai-auditd" {
				daemon = c
			}
		}
	}
	f.Data = map[string]string{"kernel": fmt.Sprint(kernel), "auditd": fmt.Sprint(daemon != "")}
	switch {
	case daemon != "":
		f.Status, f.Reason = Pass, daemon+" runs: the kernel's audit records are kept"
	case kernel:
		f.Status, f.Reason = Warn, "the kernel audits (/proc/self/loginuid), but no auditd runs: logins and privileged calls are not recorded"
	default:
		f.Status, f.Reason = Warn, "no kernel audit support and no auditd: nothing records logins or privileged calls"
	}
	return f
}

// sandboxKeys lists the sandbox keys a unit sets (initramfs/unit's Sandbox), or says it has none.
func sandboxKeys(u *unit.Unit) string {
	sb := u.Sandbox
	var keys []string
	flag := func(on bool, k string) {
		if on {
			keys = append(keys, k)
		}
	}
	flag(sb.NoNewPrivileges, "NoNewPrivileges=yes")
	flag(sb.ProtectSystem != "", "ProtectSystem="+sb.ProtectSystem)
	flag(sb.ProtectHome != "", "ProtectHome="+sb.ProtectHome)
	flag(sb.PrivateTmp, "PrivateTmp=yes")
	flag(sb.PrivateDevices, "PrivateDevices=yes")
	flag(sb.HasBound, fmt.Sprintf("CapabilityBoundingSet=(%d capabilities)", bits.OnesCount64(sb.Bound)))
	flag(sb.Ambient != 0, fmt.Sprintf("AmbientCapabilities=(%d)", bits.OnesCount64(sb.Ambient)))
	flag(sb.Families != nil, "RestrictAddressFamilies="+sb.Families.String())
	flag(u.MemoryMax != nil, "MemoryMax=")
	flag(u.TasksMax != nil, "TasksMax=")
	if len(keys) == 0 {
		return "no sandbox keys (NoNewPrivileges=, ProtectSystem=, CapabilityBoundingSet=, ...)"
	}
	return "sandbox: " + strings.Join(keys, " ")
}

// hardeningChecks flags services that run (or, with no state from the init, would run) as root.
func hardeningChecks(s *System) []Finding {
	units := s.unitFiles()
	state := map[string]svc.State{}
	if s.Units != nil {
		if sts, err := s.Units(); err == nil {
			for _, st := range sts {
				state[st.Name] = st.State
			}
		}
	}
	var out []Finding
	idle := 0
	for _, u := range units {
		if u.Type == unit.Socket || u.Type == unit.Target {
			continue
		}
		st, known := state[u.Name]
		if len(state) > 0 && (!known || st != svc.Running) {
			idle++
			continue
		}
		f := Finding{Section: "hardening", Check: u.Name, Data: map[string]string{"user": u.User, "group": u.Group}}
		if known {
			f.Data["state"] = string(st)
		}
		f.Details = []string{u.Path + "; " + sandboxKeys(u)}
		switch {
		case (u.User == "" || u.User == "root" || u.User == "0") && u.Sandbox.HasBound:
			f.Data["user"] = "root"
			f.Status, f.Reason = Warn, fmt.Sprintf("runs as root (no User=), with %d capabilities (CapabilityBoundingSet=)", bits.OnesCount64(u.Sandbox.Bound))
		case u.User == "" || u.User == "root" || u.User == "0":
			f.Data["user"] = "root"
			f.Status, f.Reason = Warn, "runs as root with every capability (no User=)"
		default:
			f.Status, f.Reason = Pass, "runs as "+u.User
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Check < out[j].Check })
	if idle > 0 {
		out = append(out, Finding{Section: "hardening", Check: "idle units", Status: Pass,
			Reason: fmt.Sprintf("%d services are not running now", idle)})
	}
	return out
}
