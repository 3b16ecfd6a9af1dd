package unit

import (
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Sandbox is what a service's processes may do, from the keys of systemd.exec(5) the init
// implements ("Sandboxing", "Security", "Capabilities"). The zero value restricts nothing; a unit
// with a zero Sandbox starts exactly as one without these keys (see Active).
type Sandbox struct {
	NoNewPrivileges bool   // prctl(PR_SET_NO_NEW_PRIVS): exec never gains privileges
	ProtectSystem   string // "", "yes" (/usr, /boot, /efi read-only), "full" (and /etc), "strict" (all but /dev, /proc, /sys)
	ProtectHome     string // "", "yes" (/home, /root, /run/user empty and inaccessible), "read-only", "tmpfs"
	PrivateTmp      bool   // own empty /tmp and /var/tmp
	PrivateDevices  bool   // a /dev of pseudo devices only; CAP_MKNOD and CAP_SYS_RAWIO dropped
	// ReadWritePaths= and ReadOnlyPaths=: absolute paths, a "-" prefix when a missing one is fine.
	ReadWritePaths, ReadOnlyPaths []string
	// CapabilityBoundingSet= as a mask of capability numbers (linux/capability.h); HasBound says
	// the key was given (without it the bounding set is left as it is).
	Bound    uint64
	HasBound bool
	Ambient  uint64 // AmbientCapabilities=
	// RestrictAddressFamilies=: nil leaves socket(2) alone.
	Families *Families
}

// Families is RestrictAddressFamilies=: socket(2) with a family outside an allow list (or inside
// a deny list) fails with EAFNOSUPPORT.
type Families struct {
	Deny bool  // the list names what is refused ("~" prefix)
	List []int // AF_* numbers, sorted
}

// Allows says whether socket(2) of family af passes.
func (f *Families) Allows(af int) bool {
	return f == nil || slices.Contains(f.List, af) != f.Deny
}

// Active says whether the unit's processes need the sandbox helper (anything but the cgroup
// limits, which the manager writes itself).
func (s *Sandbox) Active() bool {
	return s.NoNewPrivileges || s.ProtectSystem != "" || s.ProtectHome != "" || s.PrivateTmp || s.PrivateDevices ||
		len(s.ReadWritePaths) > 0 || len(s.ReadOnlyPaths) > 0 || s.HasBound || s.Ambient != 0 || s.Families != nil
}

// NeedsMounts says whether the helper needs a mount namespace of its own.
func (s *Sandbox) NeedsMounts() bool {
	return s.ProtectSystem != "" || s.ProtectHome != "" || s.PrivateTmp || s.PrivateDevices ||
		len(s.ReadWritePaths) > 0 || len(s.ReadOnlyPaths) > 0
}

// Limit is a cgroup limit (systemd.resource-control(5)): a number, a percentage of what the
// system has, or infinity.
type Limit struct {
	Infinity bool
	Value    uint64  // bytes (MemoryMax=) or tasks (TasksMax=)
	Percent  float64 // of the total, when not 0
}

// Resolve is the value for the cgroup file (memory.max, pids.max): "max" or a number, with a
// percentage taken of total.
func (l Limit) Resolve(total uint64) string {
	switch {
	case l.Infinity:
		return "max"
	case l.Percent > 0:
		return strconv.FormatUint(uint64(float64(total)*l.Percent/100), 10)
	}
	return strconv.FormatUint(l.Value, 10)
}

// capNames are the capabilities of linux/capability.h, by number.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// AllCaps is every capability this parser knows (CAP_LAST_CAP 40, Linux 5.9).
var AllCaps = uint64(1)<<len(capNames) - 1

// CapName is the name of capability n ("CAP_NET_RAW"), or its number for one newer than the table.
func CapName(n int) string {
	if n >= 0 && n < len(capNames) {
		return capNames[n]
	}
	return strconv.Itoa(n)
}

// families are the address family names RestrictAddressFamilies= takes (linux/socket.h).
var families = map[string]int{
	"AF_UNIX": unix.AF_UNIX, "AF_LOCAL": unix.AF_LOCAL, "AF_INET": unix.AF_INET, "AF_INET6": unix.AF_INET6,
	"AF_NETLINK": unix.AF_NETLINK, "AF_PACKET": unix.AF_PACKET, "AF_AX25": unix.AF_AX25, "AF_IPX": unix.AF_IPX,
	"AF_APPLETALK": unix.AF_APPLETALK, "AF_NETROM": unix.AF_NETROM, "AF_BRIDGE": unix.AF_BRIDGE,
	"AF_ATMPVC": unix.AF_ATMPVC, "AF_X25": unix.AF_X25, "AF_ROSE": unix.AF_ROSE, "AF_DECnet": unix.AF_DECnet,
	"AF_NETBEUI": unix.AF_NETBEUI, "AF_SECURITY": unix.AF_SECURITY, "AF_KEY": unix.AF_KEY,
	"AF_ECONET": unix.AF_ECONET, "AF_ATMSVC": unix.AF_ATMSVC, "AF_RDS": unix.AF_RDS, "AF_SNA": unix.AF_SNA,
	"AF_IRDA": unix.AF_IRDA, "AF_PPPOX": unix.AF_PPPOX, "AF_WANPIPE": unix.AF_WANPIPE, "AF_LLC": unix.AF_LLC,
	"AF_IB": unix.AF_IB, "AF_MPLS": unix.AF_MPLS, "AF_CAN": unix.AF_CAN, "AF_TIPC": unix.AF_TIPC,
	"AF_BLUETOOTH": unix.AF_BLUETOOTH, "AF_IUCV": unix.AF_IUCV, "AF_RXRPC": unix.AF_RXRPC,
	"AF_ISDN": unix.AF_ISDN, "AF_PHONET": unix.AF_PHONET, "AF_IEEE802154": unix.AF_IEEE802154,
	"AF_CAIF": unix.AF_CAIF, "AF_ALG": unix.AF_ALG, "AF_NFC": unix.AF_NFC, "AF_VSOCK": unix.AF_VSOCK,
	"AF_KCM": unix.AF_KCM, "AF_QIPCRTR": unix.AF_QIPCRTR, "AF_SMC": unix.AF_SMC, "AF_XDP": unix.AF_XDP,
	"AF_MCTP": unix.AF_MCTP,
}

// setSandbox handles the sandbox and resource keys of [Service]; it says whether k was one.
func (p *parser) setSandbox(k, v string, line int) bool {
	s := &p.u.Sandbox
	boolean := func(dst *bool) {
		b, ok := parseBool(v)
		if !ok {
			p.warn(line, "%s=%q: want yes or no, skipped", k, v)
			return
		}
		*dst = b
	}
	choice := func(dst *string, yes string, others ...string) {
		if b, ok := parseBool(v); ok {
			*dst = ""
			if b {
				*dst = yes
			}
			return
		}
		if !slices.Contains(others, v) {
			p.warn(line, "%s=%q: want yes, no, %s, skipped", k, v, strings.Join(others, ", "))
			return
		}
		*dst = v
	}
	paths := func(dst *[]string) {
		if v == "" {
			*dst = nil
			return
		}
		words, err := SplitWords(v)
		if err != nil {
			p.warn(line, "%s=: %v, skipped", k, err)
			return
		}
		for _, w := range words {
			pth := strings.TrimPrefix(strings.TrimPrefix(w, "-"), "+")
			if !filepath.IsAbs(pth) || filepath.Clean(pth) != pth || strings.Contains(pth, "..") {
				p.warn(line, "%s=%q: want a normalized absolute path, skipped", k, w)
				continue
			}
			*dst = append(*dst, strings.TrimPrefix(w, "+"))
		}
	}
	switch k {
	case "NoNewPrivileges":
		boolean(&s.NoNewPrivileges)
	case "PrivateTmp":
		boolean(&s.PrivateTmp)
	case "PrivateDevices":
		boolean(&s.PrivateDevices)
	case "ProtectSystem":
		choice(&s.ProtectSystem, "yes", "full", "strict")
	case "ProtectHome":
		choice(&s.ProtectHome, "yes", "read-only", "tmpfs")
	case "ReadWritePaths":
		paths(&s.ReadWritePaths)
	case "ReadOnlyPaths":
		paths(&s.ReadOnlyPaths)
	case "CapabilityBoundingSet":
		bound := s.Bound
		if !s.HasBound {
			bound = AllCaps
		}
		if m, ok := p.capSet(k, v, line, bound, AllCaps); ok {
			s.Bound, s.HasBound = m, true
		}
	case "AmbientCapabilities":
		if m, ok := p.capSet(k, v, line, s.Ambient, 0); ok {
			s.Ambient = m
		}
	case "RestrictAddressFamilies":
		p.families(v, line)
	case "MemoryMax":
		p.limit(k, v, line, &p.u.MemoryMax, true)
	case "TasksMax":
		p.limit(k, v, line, &p.u.TasksMax, false)
	default:
		return false
	}
	return true
}

// capSet merges one capability line into cur as systemd does (its config_parse_capability_set):
// the first line, or the first after an empty one, replaces the initial set; later lines are
// OR'd, or with "~" AND'd with the complement. An empty value resets to the empty set.
func (p *parser) capSet(k, v string, line int, cur, initial uint64) (uint64, bool) {
	if v == "" {
		return 0, true
	}
	invert := strings.HasPrefix(v, "~")
	var sum uint64
	for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
		i := slices.Index(capNames, strings.ToUpper(w))
		if i < 0 {
			p.warn(line, "%s=: unknown capability %q, skipped", k, w)
			return 0, false
		}
		sum |= 1 << i
	}
	if invert {
		sum = AllCaps &^ sum
	}
	switch {
	case cur == initial:
		return sum, true
	case invert:
		return cur & sum, true
	default:
		return cur | sum, true
	}
}

// families merges one RestrictAddressFamilies= line (systemd.exec(5)): an allow list, a "~" deny
// list, or "none" (every socket(2) refused); a later line of the other kind takes its families
// out of the list; an empty value lifts the restriction.
func (p *parser) families(v string, line int) {
	s := &p.u.Sandbox
	if v == "" {
		s.Families = nil
		return
	}
	if v == "none" {
		s.Families = &Families{}
		return
	}
	deny := strings.HasPrefix(v, "~")
	var list []int
	for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
		af, ok := families[w]
		if !ok {
			p.warn(line, "RestrictAddressFamilies=: unknown address family %q, skipped", w)
			return
		}
		list = append(list, af)
	}
	f := s.Families
	switch {
	case f == nil:
		f = &Families{Deny: deny, List: list}
	case f.Deny == deny:
		f.List = append(f.List, list...)
	default:
		f.List = slices.DeleteFunc(f.List, func(af int) bool { return slices.Contains(list, af) })
	}
	slices.Sort(f.List)
	f.List = slices.Compact(f.List)
	s.Families = f
}

// limit parses MemoryMax= (bytes with an optional K, M, G or T suffix, base 1024) or TasksMax= (a
// count), either also as a percentage or "infinity" (systemd.resource-control(5)). An empty
// value removes the limit.
func (p *parser) limit(k, v string, line int, dst **Limit, bytes bool) {
	if v == "" {
		*dst = nil
		return
	}
	if v == "infinity" {
		*dst = &Limit{Infinity: true}
		return
	}
	if pc, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(pc, 64)
		if err != nil || f <= 0 || f > 100 {
			p.warn(line, "%s=%q: want a percentage above 0 and at most 100, skipped", k, v)
			return
		}
		*dst = &Limit{Percent: f}
		return
	}
	num, mult := v, uint64(1)
	if bytes && len(v) > 0 {
		if i := strings.IndexByte("KMGT", v[len(v)-1]); i >= 0 {
			num, mult = v[:len(v)-1], 1<<(10*(i+1))
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > math.MaxUint64/mult {
		want := "a count of at least 1"
		if bytes {
			want = "bytes (K, M, G or T suffix)"
		}
		p.warn(line, "%s=%q: want %s, a percentage or infinity, skipped", k, v, want)
		return
	}
	*dst = &Limit{Value: n * mult}
}

// String lists the families for logs ("AF_UNIX AF_INET", "~AF_PACKET", "none").
func (f *Families) String() string {
	if f == nil {
		return ""
	}
	if len(f.List) == 0 && !f.Deny {
		return "none"
	}
	var names []string
	for _, af := range f.List {
		n := strconv.Itoa(af)
		for name, v := range families {
			if v == af && name != "AF_LOCAL" {
				n = name
			}
		}
		names = append(names, n)
	}
	s := strings.Join(names, " ")
	if f.Deny {
		s = "~" + s
	}
	return s
}
