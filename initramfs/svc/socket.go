package svc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/unit"
	"golang.org/x/sys/unix"
)

// ErrTemplate: a template unit ("sshd@.service") runs only as instances its socket starts.
var ErrTemplate = errors.New("is a template: its socket unit starts one instance per connection")

// serveSocket runs a socket unit (Accept=yes, as inetd does): it listens on every ListenStream=
// address and, for each connection, runs one instance of the template service with the connection
// as its standard input (and output, unless the template says otherwise), until a stop is
// requested. The socket counts as running once it listens: what it activates starts on demand.
func (m *Manager) serveSocket(s *service, r *runner) {
	u := s.u
	now := m.cfg.Clock()
	m.mu.Lock()
	s.startedAt, s.readyAt, s.starts = now, 0, append(s.starts, now)
	m.mu.Unlock()
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, a := range u.ListenStream {
		if a.Network == "unix" {
			_ = os.MkdirAll(filepath.Dir(a.Address), 0o755)
			_ = os.Remove(a.Address) // a stale socket file from a former run
		}
		l, err := listen(a)
		if err != nil {
			closeAll()
			m.setState(s, Failed, "listen: "+err.Error())
			return
		}
		ls = append(ls, l)
	}
	m.mu.Lock()
	s.readyAt = m.cfg.Clock()
	m.setStateLocked(s, Running, "")
	m.socketStatusLocked(s)
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.accept(s, l)
		}()
	}
	<-r.stop
	closeAll()
	wg.Wait()
	m.setState(s, Inactive, "stopped")
}

func (m *Manager) accept(s *service, l net.Listener) {
	for {
		c, err := l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors, say: back off rather than spin
			m.log.Warn("socket accept", "socket", s.u.Name, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go m.serveConn(s, c)
	}
}

func (m *Manager) socketStatusLocked(s *service) {
	addrs := make([]string, len(s.u.ListenStream))
	for i, a := range s.u.ListenStream {
		addrs[i] = a.Address
	}
	s.status = fmt.Sprintf("listening on %s, %d accepted, %d active", strings.Join(addrs, " "), s.accepted, s.active)
}

// serveConn runs one instance of the socket's template for the connection c, and closes c when
// the instance has ended.
func (m *Manager) serveConn(sock *service, c net.Conn) {
	defer c.Close()
	tname := sock.u.Activates()
	t := m.svcs[tname]
	m.mu.Lock()
	if sock.active >= sock.u.MaxConnections {
		m.mu.Unlock()
		m.log.Warn("socket: too many connections, closing one", "socket", sock.u.Name, "max", sock.u.MaxConnections,
			"peer", c.RemoteAddr().String())
		return
	}
	sock.active++
	sock.accepted++
	m.socketStatusLocked(sock)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		sock.active--
		m.socketStatusLocked(sock)
		m.mu.Unlock()
	}()
	if t == nil {
		m.log.Warn("socket: no unit to activate", "socket", sock.u.Name, "unit", tname)
		return
	}
	if err := m.instance(t, c); err != nil {
		m.log.Warn("socket: instance failed", "socket", sock.u.Name, "unit", tname, "peer", c.RemoteAddr().String(), "err", err)
	}
}

// instance runs the template t once for the connection c: what t requires and wants first (a
// host key, say, made on the first connection), then ExecStartPre= and ExecStart=.
func (m *Manager) instance(t *service, c net.Conn) error {
	u := t.u
	var deps []string
	for _, d := range append(append([]string(nil), u.Requires...), u.Wants...) {
		if m.svcs[d] != nil {
			deps = append(deps, d)
		}
	}
	if len(deps) > 0 {
		rep := m.startSet(deps)
		for _, f := range rep.Failed {
			for _, r := range u.Requires {
				if f == r {
					return fmt.Errorf("dependency failed: %s", r)
				}
			}
		}
	}
	fc, ok := c.(interface{ File() (*os.File, error) })
	if !ok {
		return fmt.Errorf("%T has no file descriptor", c)
	}
	f, err := fc.File() // a blocking duplicate, as the service expects
	if err != nil {
		return err
	}
	defer f.Close()
	env, cred, err := m.environment(t)
	if err != nil {
		return err
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok { // as systemd sets them for Accept=yes
		env = withVar(withVar(env, "REMOTE_ADDR", a.IP.String()), "REMOTE_PORT", strconv.Itoa(a.Port))
	}
	if err := m.runtimeDirs(u, cred); err != nil {
		return err
	}
	for _, pre := range u.ExecStartPre {
		ws, _, err := m.runSync(t, pre, env, cred, u.TimeoutStartSec, nil)
		if err != nil {
			return fmt.Errorf("exec-start-pre: %w", err)
		}
		if !success(ws, pre) {
			return errors.New("exec-start-pre: " + describe(ws))
		}
	}
	pid, exit, err := m.spawnConn(t, u.ExecStart[0], env, cred, f)
	if err != nil {
		return err
	}
	f.Close() // the instance has its own copy
	m.mu.Lock()
	t.instances++
	if t.instances == 1 {
		t.startedAt, t.readyAt = m.cfg.Clock(), m.cfg.Clock()
		m.setStateLocked(t, Running, "")
	}
	t.status = fmt.Sprintf("%d running", t.instances)
	m.mu.Unlock()
	e := <-exit
	// What the instance left in its process group goes with it (the template's cgroup is shared
	// by every instance, so it cannot be killed as a whole).
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	m.mu.Lock()
	t.instances--
	t.status = fmt.Sprintf("%d running", t.instances)
	if t.instances == 0 {
		t.status = ""
		m.setStateLocked(t, Inactive, describe(e.Status))
	}
	m.mu.Unlock()
	if !success(e.Status, u.ExecStart[0]) {
		return errors.New(describe(e.Status))
	}
	return nil
}

// listen makes the listening socket of a with socket(2), bind(2) and listen(2) and hands it to
// the net package. net.Listen would do the same, but first probes which address families the
// kernel has and resolves the address: under emulation, at boot, tens of milliseconds of code
// that runs nowhere else before the ready line.
func listen(a unit.Listen) (net.Listener, error) {
	var (
		fd  int
		sa  unix.Sockaddr
		err error
	)
	switch a.Network {
	case "unix":
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		sa = &unix.SockaddrUnix{Name: a.Address}
	case "tcp":
		host, port, err := net.SplitHostPort(a.Address)
		if err != nil {
			return nil, err
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, err
		}
		ip := net.ParseIP(host)
		if host != "" && ip == nil {
			return nil, fmt.Errorf("%q: not an IP address", host)
		}
		if ip4 := ip.To4(); ip4 != nil {
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			sa4 := &unix.SockaddrInet4{Port: p}
			copy(sa4.Addr[:], ip4)
			sa = sa4
		} else {
			// Every address (host ""), or an IPv6 one: one IPv6 socket that also takes IPv4
			// (IPV6_V6ONLY off for ""), as systemd binds a bare port; IPv4 alone if the kernel has
			// no IPv6.
			fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				sa6 := &unix.SockaddrInet6{Port: p}
				copy(sa6.Addr[:], ip.To16())
				sa = sa6
				if host == "" {
					_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
				}
			} else if host == "" && errors.Is(err, unix.EAFNOSUPPORT) {
				fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				sa = &unix.SockaddrInet4{Port: p}
			}
		}
		if err == nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}
	default:
		return nil, fmt.Errorf("network %q", a.Network)
	}
	if err != nil {
		return nil, fmt.Errorf("socket for %s: %w", a.Address, err)
	}
	f := os.NewFile(uintptr(fd), a.Address)
	defer f.Close() // FileListener keeps its own copy
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind %s: %w", a.Address, err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		return nil, fmt.Errorf("listen %s: %w", a.Address, err)
	}
	return net.FileListener(f)
}
