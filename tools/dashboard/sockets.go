package dashboard

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/genai-os/genai-build/initramfs/unit"
)

// servicesDir is where the init reads its unit files (consciousness-init, services.go).
const servicesDir = "/etc/consciousness/services"

// socket is one listening (or bound, for datagrams) socket of /proc/net.
type socket struct {
	proto string // tcp, tcp6, udp, udp6, unix
	ip    net.IP // nil for unix
	port  int
	path  string // unix: the bound path ("@name" for the abstract namespace)
	inode uint64
}

func (k socket) String() string {
	if k.proto == "unix" {
		return k.proto + " " + k.path
	}
	return fmt.Sprintf("%s %s", k.proto, net.JoinHostPort(k.ip.String(), strconv.Itoa(k.port)))
}

// TCP states of include/net/tcp_states.h as /proc/net/tcp prints them; an unconnected UDP
// socket shows as TCP_CLOSE.
const (
	tcpListen = 0x0A
	tcpClose  = 0x07
)

// soAcceptCon is __SO_ACCEPTCON (include/linux/net.h): the Flags of a listening unix socket in
// /proc/net/unix. Type 2 is SOCK_DGRAM (include/linux/net.h, enum sock_type).
const (
	soAcceptCon = 0x10000
	sockDgram   = 2
)

// parseInet reads /proc/net/{tcp,tcp6,udp,udp6} (Documentation/networking/proc_net_tcp.rst):
// "sl local_address rem_address st ... uid timeout inode"; addresses are hex words in the
// kernel's byte order (little-endian on x86), the port big-endian hex.
func parseInet(proto string, b []byte) ([]socket, error) {
	want := tcpListen
	if strings.HasPrefix(proto, "udp") {
		want = tcpClose
	}
	var out []socket
	for i, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if i == 0 || len(f) < 10 {
			continue
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/%s line %d: state %q", proto, i+1, f[3])
		}
		if int(st) != want {
			continue
		}
		addr, port, ok := strings.Cut(f[1], ":")
		raw, err := hex.DecodeString(addr)
		if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
			return nil, fmt.Errorf("/proc/net/%s line %d: address %q", proto, i+1, f[1])
		}
		ip := make(net.IP, len(raw))
		for w := 0; w < len(raw); w += 4 {
			binary.BigEndian.PutUint32(ip[w:], binary.LittleEndian.Uint32(raw[w:]))
		}
		p, err := strconv.ParseUint(port, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/%s line %d: port %q", proto, i+1, port)
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/%s line %d: inode %q", proto, i+1, f[9])
		}
		out = append(out, socket{proto: proto, ip: ip, port: int(p), inode: inode})
	}
	return out, nil
}

// parseUnix reads /proc/net/unix ("Num RefCount Protocol Flags Type St Inode Path"): listening
// stream sockets and bound datagram sockets, the ones that take connections or messages.
func parseUnix(b []byte) ([]socket, error) {
	var out []socket
	for i, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if i == 0 || len(f) < 8 {
			continue // no path: unbound, nobody can reach it
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		typ, err2 := strconv.ParseUint(f[4], 16, 16)
		inode, err3 := strconv.ParseUint(f[6], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("/proc/net/unix line %d: %q", i+1, l)
		}
		if flags&soAcceptCon == 0 && typ != sockDgram {
			continue
		}
		out = append(out, socket{proto: "unix", path: strings.Join(f[7:], " "), inode: inode})
	}
	return out, nil
}

// process is what /proc says of one process.
type process struct {
	pid, ppid int
	comm      string
}

// processes maps every socket inode to the processes holding it (/proc/PID/fd/N links read
// "socket:[INODE]", proc(5)), and returns the processes seen.
func (s *System) processes() (map[uint64][]int, map[int]process, error) {
	ents, err := os.ReadDir(s.path("/proc"))
	if err != nil {
		return nil, nil, err
	}
	holders := map[uint64][]int{}
	procs := map[int]process{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p := process{pid: pid}
		if b, err := s.read(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
			p.comm = strings.TrimSpace(string(b))
		}
		if b, err := s.read(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// "pid (comm) state ppid ...": comm may hold spaces and parentheses; cut at the last ')'.
			if i := strings.LastIndexByte(string(b), ')'); i > 0 {
				if f := strings.Fields(string(b[i+1:])); len(f) > 1 {
					p.ppid, _ = strconv.Atoi(f[1])
				}
			}
		}
		procs[pid] = p
		fds, _ := os.ReadDir(s.path(fmt.Sprintf("/proc/%d/fd", pid)))
		for _, fd := range fds {
			t, err := os.Readlink(filepath.Join(s.path(fmt.Sprintf("/proc/%d/fd", pid)), fd.Name()))
			if err != nil || !strings.HasPrefix(t, "socket:[") {
				continue
			}
			if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(t, "socket:["), "]"), 10, 64); err == nil {
				if h := holders[n]; len(h) == 0 || h[len(h)-1] != pid {
					holders[n] = append(h, pid)
				}
			}
		}
	}
	return holders, procs, nil
}

// unitFiles loads the init's unit files (errors leave them out: the sockets still show).
func (s *System) unitFiles() []*unit.Unit {
	us, _, _ := unit.LoadDir(s.path(servicesDir))
	return us
}

// socketUnit is the socket unit whose ListenStream= k is, or "".
func socketUnit(units []*unit.Unit, k socket) string {
	for _, u := range units {
		for _, l := range u.ListenStream {
			switch {
			case l.Network == "unix" && k.proto == "unix" && l.Address == k.path:
				return u.Name
			case l.Network == "tcp" && strings.HasPrefix(k.proto, "tcp"):
				host, port, err := net.SplitHostPort(l.Address)
				if err == nil && port == strconv.Itoa(k.port) && (host == "" || net.ParseIP(host).Equal(k.ip)) {
					return u.Name
				}
			}
		}
	}
	return ""
}

func socketChecks(s *System) []Finding {
	var socks []socket
	for _, p := range []string{"tcp", "tcp6", "udp", "udp6", "unix"} {
		b, err := s.read("/proc/net/" + p)
		if err != nil {
			continue // no IPv6 in this kernel, say
		}
		var ks []socket
		if p == "unix" {
			ks, err = parseUnix(b)
		} else {
			ks, err = parseInet(p, b)
		}
		if err != nil {
			return []Finding{{Section: "sockets", Check: "sockets", Status: Warn, Reason: err.Error()}}
		}
		socks = append(socks, ks...)
	}
	holders, procs, err := s.processes()
	if err != nil {
		return []Finding{{Section: "sockets", Check: "sockets", Status: Warn, Reason: err.Error()}}
	}
	unitOf := map[int]string{}
	var unitsErr error
	if s.Units != nil {
		var sts []svc.Status
		sts, unitsErr = s.Units()
		for _, st := range sts {
			if st.PID > 0 {
				unitOf[st.PID] = st.Name
			}
		}
	}
	files := s.unitFiles()
	// owner walks up from pid to the first process a unit started.
	owner := func(pid int) string {
		for p, n := pid, 0; p > 1 && n < 64; p, n = procs[p].ppid, n+1 {
			if u := unitOf[p]; u != "" {
				return u
			}
		}
		return ""
	}
	var out []Finding
	for _, k := range socks {
		f := Finding{Section: "sockets", Check: k.String()}
		f.Data = map[string]string{"proto": k.proto}
		if k.proto == "unix" {
			f.Data["path"] = k.path
		} else {
			f.Data["address"], f.Data["port"] = k.ip.String(), strconv.Itoa(k.port)
		}
		var who, served []string
		init := false
		for _, pid := range holders[k.inode] {
			who = append(who, fmt.Sprintf("%d(%s)", pid, procs[pid].comm))
			if pid == 1 {
				init = true
			} else if u := owner(pid); u != "" {
				served = append(served, fmt.Sprintf("%s pid %d", u, pid))
			}
		}
		if len(who) > 0 {
			f.Data["pids"] = strings.Join(who, " ")
			f.Details = append(f.Details, "held by "+strings.Join(who, ", "))
		}
		switch {
		case init && socketUnit(files, k) != "":
			f.Data["owner"] = socketUnit(files, k)
			f.Reason = f.Data["owner"] + ": the init listens"
			if len(served) > 0 {
				f.Reason += ", served by " + strings.Join(served, ", ")
			}
		case init:
			f.Data["owner"] = "consciousness-init"
			f.Reason = "the init itself (PID 1)"
		case len(served) > 0:
			f.Data["owner"], _, _ = strings.Cut(served[0], " ")
			f.Reason = strings.Join(served, ", ")
		}
		switch {
		case f.Data["owner"] != "":
			f.Status = Pass
		case len(who) > 0:
			f.Status, f.Reason = Warn, "no unit started "+strings.Join(who, ", ")
		case !s.Privileged:
			f.Status, f.Reason = Warn, "owner unknown: only root sees every process's sockets"
		default:
			f.Status, f.Reason = Warn, "no process holds it (a kernel socket, or one closing)"
		}
		if k.proto != "unix" && !k.ip.IsLoopback() {
			f.Reason += "; reachable from the network"
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return sockOrder(out[i]) < sockOrder(out[j]) })
	if unitsErr != nil {
		out = append(out, Finding{Section: "sockets", Check: "units", Status: Warn,
			Reason: "sockets attributed to processes only: " + unitsErr.Error()})
	}
	return out
}

// sockOrder puts network sockets first, by port.
func sockOrder(f Finding) string {
	if f.Data["proto"] == "unix" {
		return "2" + f.Data["path"]
	}
	p, _ := strconv.Atoi(f.Data["port"])
	return fmt.Sprintf("1%05d%s", p, f.Data["proto"])
}
