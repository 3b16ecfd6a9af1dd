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

// serveSocket runs a socket unit until a stop is requested: it listens on every ListenStream=
// address; with Accept=yes (as inetd does) it runs, for each connection, one instance of the
// template service with the connection as its standard input (and output, unless the template
// says otherwise); with Accept=no it starts the service when a connection waits and hands it the
// listening sockets (sd_listen_fds(3)). The socket counts as running once it listens: what it
// activates starts on demand.
func (m *Manager) serveSocket(s *service, r *runner) {
	u := s.u
	now := m.cfg.Clock()
	m.mu.Lock()
	s.startedAt, s.readyAt, s.starts = now, 0, append(s.starts, now)
	m.mu.Unlock()
	var fds []int
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	for _, a := range u.ListenStream {
		if a.Network == "unix" {
			_ = os.MkdirAll(filepath.Dir(a.Address), 0o755)
			_ = os.Remove(a.Address) // a stale socket file from a former run
		}
		fd, err := listenFD(a)
		if err != nil {
			closeAll()
			m.setState(s, Failed, "listen: "+err.Error())
			return
		}
		fds = append(fds, fd)
	}
	if !u.Accept && m.cfg.SocketExec == "" {
		closeAll()
		m.setState(s, Failed, "Accept=no needs the manager's SocketExec program (sd_listen_fds)")
		return
	}
	var ls []net.Listener
	if u.Accept {
		for _, fd := range fds {
			f := os.NewFile(uintptr(fd), "socket")
			l, err := net.FileListener(f) // its own copy of the descriptor
			f.Close()
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				m.setState(s, Failed, "listen: "+err.Error())
				return
			}
			ls = append(ls, l)
		}
		fds = nil
	}
	m.mu.Lock()
	s.fds = fds
	s.readyAt = m.cfg.Clock()
	m.setStateLocked(s, Running, "")
	m.socketStatusLocked(s)
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Add(1)
		m.goSafe("accept on "+s.u.Name, func() {
			defer wg.Done()
			m.accept(s, l)
		})
	}
	result := "stopped"
	if !u.Accept {
		result = m.trigger(s, r, fds)
	}
	if result == "stopped" {
		<-r.stop
	}
	for _, l := range ls {
		l.Close()
	}
	wg.Wait()
	m.mu.Lock()
	s.fds = nil
	m.mu.Unlock()
	closeAll()
	if result != "stopped" {
		m.setState(s, Failed, result)
		return
	}
	m.setState(s, Inactive, result)
}

// triggerLimit is how many times in a row the service of an Accept=no socket may fail to start
// (or exit at once) on a waiting connection before the socket gives up (systemd's
// trigger-limit-hit).
const triggerLimit = 5

// trigger serves an Accept=no socket: whenever a connection waits on one of fds and the service
// is not running, it starts the service (which gets fds, see spawnMain) and waits for it to end.
// It returns "stopped" when r is stopped, or why the socket failed.
func (m *Manager) trigger(s *service, r *runner, fds []int) string {
	name := s.u.Activates()
	target := m.svcs[name]
	if target == nil {
		m.log.Warn("socket: no unit to activate", "socket", s.u.Name, "unit", name)
		return "no unit " + name
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return "eventfd: " + err.Error()
	}
	// The waker writes to wake on a stop, and is gone before wake is closed (the number could be
	// reused by then).
	done := make(chan struct{})
	var waker sync.WaitGroup
	waker.Add(1)
	m.goSafe("waker of "+s.u.Name, func() {
		defer waker.Done()
		select {
		case <-r.stop:
			_, _ = unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		case <-done:
		}
	})
	defer func() {
		close(done)
		waker.Wait()
		unix.Close(wake)
	}()
	stopped := func() bool {
		select {
		case <-r.stop:
			return true
		default:
			return false
		}
	}
	failures := 0
	for {
		pfds := make([]unix.PollFd, 0, len(fds)+1)
		for _, fd := range fds {
			pfds = append(pfds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		}
		pfds = append(pfds, unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
		if _, err := unix.Poll(pfds, -1); errors.Is(err, unix.EINTR) {
			continue
		} else if err != nil {
			return "poll: " + err.Error()
		}
		if stopped() {
			return "stopped"
		}
		if pfds[len(pfds)-1].Revents != 0 {
			continue
		}
		m.mu.Lock()
		run := target.run
		m.mu.Unlock()
		if run == nil {
			m.startSet([]string{name})
			m.mu.Lock()
			run = target.run
			st := target.state
			m.mu.Unlock()
			if st != Running {
				failures++
				m.log.Warn("socket: the service it activates did not start", "socket", s.u.Name, "unit", name,
					"state", string(st), "failures", failures)
				if failures >= triggerLimit {
					return "trigger-limit-hit: " + name + " " + string(st)
				}
				select { // a connection still waits: do not spin
				case <-time.After(time.Second):
				case <-r.stop:
					return "stopped"
				}
				continue
			}
			failures = 0
		}
		if run != nil {
			select {
			case <-run.done:
			case <-r.stop:
				return "stopped"
			}
		}
	}
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
		m.goSafe("connection to "+s.u.Name, func() { m.serveConn(s, c) })
	}
}

func (m *Manager) socketStatusLocked(s *service) {
	addrs := make([]string, len(s.u.ListenStream))
	for i, a := range s.u.ListenStream {
		addrs[i] = a.Address
	}
	if !s.u.Accept {
		s.status = fmt.Sprintf("listening on %s for %s", strings.Join(addrs, " "), s.u.Activates())
		return
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

// listenFD makes the listening socket of a with socket(2), bind(2) and listen(2) (close-on-exec).
// net.Listen would do the same, but first probes which address families the kernel has and
// resolves the address: under emulation, at boot, tens of milliseconds of code that runs nowhere
// else before the ready line.
func listenFD(a unit.Listen) (int, error) {
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
			return -1, err
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return -1, err
		}
		ip := net.ParseIP(host)
		if host != "" && ip == nil {
			return -1, fmt.Errorf("%q: not an IP address", host)
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
		return -1, fmt.Errorf("network %q", a.Network)
	}
	if err != nil {
		return -1, fmt.Errorf("socket for %s: %w", a.Address, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", a.Address, err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen %s: %w", a.Address, err)
	}
	return fd, nil
}

// SocketExecName is argv[0] of the SocketExec program (Config.SocketExec).
const SocketExecName = "consciousness-socket-exec"

// ExecListen is the SocketExec program: with args PATH ARGV0 [ARG...] it sets LISTEN_PID to its
// own process ID, which sd_listen_fds(3) checks, and executes PATH, which keeps that ID. A
// process cannot know its child's ID before the fork, so the manager starts a service that gets
// sockets through this. It returns only if the exec failed.
func ExecListen(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: " + SocketExecName + " PATH ARGV0 [ARG...]")
	}
	env := withVar(os.Environ(), "LISTEN_PID", strconv.Itoa(os.Getpid()))
	return syscall.Exec(args[0], args[1:], env)
}
