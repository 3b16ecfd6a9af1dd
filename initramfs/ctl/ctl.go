// Package ctl is the control protocol between the init and
// consciousness-manager: newline-delimited JSON over a unix stream socket
// (DefaultSocket), one Request per connection, answered by one Response, or
// by a stream of Responses for "logs -f" and "events".
package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/guard"
	"github.com/genai-os/genai-build/initramfs/svc"
	"golang.org/x/sys/unix"
)

// DefaultSocket is where the init listens: root, or group "consciousness".
const DefaultSocket = "/run/consciousness/control.sock"

// Request is one command.
type Request struct {
	Verb   string   `json:"verb"` // status start stop restart reload logs boot level poweroff reboot events history
	Args   []string `json:"args,omitempty"`
	Follow bool     `json:"follow,omitempty"` // logs -f
}

// Response answers a Request. Exactly one of Error or the data fields is set;
// a stream of log lines sends one Response per line.
type Response struct {
	Error    string        `json:"error,omitempty"`
	Services []svc.Status  `json:"services,omitempty"`
	Report   *svc.Report   `json:"report,omitempty"`
	Lines    []svc.LogLine `json:"lines,omitempty"`
	Level    string        `json:"level,omitempty"`
	Boot     *BootInfo     `json:"boot,omitempty"`
	Done     bool          `json:"done,omitempty"`
	Event    *Event        `json:"event,omitempty"`   // one per Response of "events"
	History  []svc.History `json:"history,omitempty"` // "history": each unit's recent exits
}

// Event is one change the init publishes (verb "events"): the first is Kind "hello" with the
// current Level, then "unit" (Unit, State, Result) and "level" (Level) as they happen. A
// subscriber that falls svc.EventBuffer events behind has its connection closed.
type Event = svc.Event

// BootInfo is the init's own part of the boot timeline.
type BootInfo struct {
	Edition       string  `json:"edition"`
	Level         string  `json:"level"`
	ExecMs        int64   `json:"exec_ms,omitempty"` // kernel start to its exec of /init (from its log)
	InitMs        int64   `json:"init_start_ms"`     // kernel start to the init's main (after the Go runtime's start)
	ModulesMs     int64   `json:"modules_ms"`        // time spent loading modules
	ReadyMs       int64   `json:"ready_ms"`          // kernel start to the ready line
	ServicesOK    int     `json:"services_ok"`
	ServicesTotal int     `json:"services_total"`
	Phases        []Phase `json:"phases,omitempty"` // the init's boot phases, in order
}

// Phase is a step of the init's boot and when it ended, in ms since the kernel started.
type Phase struct {
	Name string `json:"name"`
	Ms   int64  `json:"ms"`
}

// Manager is what the server drives (a *svc.Manager).
type Manager interface {
	Status(names ...string) ([]svc.Status, error)
	Start(names ...string) (svc.Report, error)
	Stop(names ...string) error
	Restart(names ...string) (svc.Report, error)
	Reload(name string) error
	Logs(name string) ([]svc.LogLine, error)
	Follow(name string) ([]svc.LogLine, <-chan svc.LogLine, func(), error)
	Level() bootconf.Level
	SetLevel(bootconf.Level) svc.Report
	Subscribe() *svc.Subscription
	History(names ...string) ([]svc.History, error)
}

// Server answers requests.
type Server struct {
	M        Manager
	Boot     func() BootInfo
	Power    func(verb string) error // "poweroff" or "reboot"; returns at once, the init goes down after
	AllowGID int                     // peers with this gid may connect besides root; -1: none
	Log      *slog.Logger
}

// Listen makes the socket at path, mode 0660, group gid (if >= 0).
func Listen(path string, gid int) (*net.UnixListener, error) {
	os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if gid >= 0 {
		if err := os.Chown(path, 0, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("control socket: %w", err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return l, nil
}

// Serve accepts connections until l is closed.
func (s *Server) Serve(l *net.UnixListener) error {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go s.handle(c) // recovers its own panic
	}
}

func (s *Server) allowed(c *net.UnixConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var groups []uint32
	var gerr error
	rc.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		groups, gerr = peerGroups(int(fd))
	})
	if err != nil || cred == nil {
		return false
	}
	if cred.Uid == 0 || int(cred.Uid) == os.Getuid() {
		return true
	}
	if s.AllowGID < 0 {
		return false
	}
	return int(cred.Gid) == s.AllowGID || (gerr == nil && slices.Contains(groups, uint32(s.AllowGID)))
}

// peerGroups are the supplementary groups the peer had when it connected (SO_PEERGROUPS, Linux
// 4.13, socket(7)), taken by the kernel with SO_PEERCRED's credentials: SO_PEERCRED gives only the
// primary group, and a user is usually in the control group as a supplementary one (the
// desktop's genai).
func peerGroups(fd int) ([]uint32, error) {
	n := 64
	for {
		buf := make([]uint32, n)
		size := uint32(4 * n)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case errno == unix.ERANGE && int(size) > 4*n: // the kernel says how much it needs
			n = int(size) / 4
			continue
		case errno != 0:
			return nil, errno
		}
		return buf[:size/4], nil
	}
}

func (s *Server) handle(c *net.UnixConn) {
	defer c.Close()
	defer guard.Recover(s.Log, "control connection", nil)
	enc := json.NewEncoder(c)
	if !s.allowed(c) {
		enc.Encode(Response{Error: "permission denied: root or group consciousness only"})
		return
	}
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, 64<<10)).Decode(&req); err != nil {
		enc.Encode(Response{Error: "bad request: " + err.Error()})
		return
	}
	if req.Verb == "logs" && req.Follow {
		s.follow(c, enc, req)
		return
	}
	if req.Verb == "events" {
		s.events(c, enc)
		return
	}
	resp := s.Do(req)
	enc.Encode(resp)
}

// Do answers one non-streaming request.
func (s *Server) Do(req Request) Response {
	fail := func(err error) Response { return Response{Error: err.Error()} }
	need := func(n int) error {
		if len(req.Args) < n {
			return fmt.Errorf("%s: want a unit name", req.Verb)
		}
		return nil
	}
	switch req.Verb {
	case "status":
		st, err := s.M.Status(names(req.Args)...)
		if err != nil {
			return fail(err)
		}
		return Response{Services: st, Level: s.M.Level().String()}
	case "start", "restart":
		if err := need(1); err != nil {
			return fail(err)
		}
		f := s.M.Start
		if req.Verb == "restart" {
			f = s.M.Restart
		}
		rep, err := f(names(req.Args)...)
		if err != nil {
			return fail(err)
		}
		return Response{Report: &rep}
	case "stop":
		if err := need(1); err != nil {
			return fail(err)
		}
		if err := s.M.Stop(names(req.Args)...); err != nil {
			return fail(err)
		}
		return Response{Done: true}
	case "reload":
		if err := need(1); err != nil {
			return fail(err)
		}
		for _, n := range names(req.Args) {
			if err := s.M.Reload(n); err != nil {
				return fail(err)
			}
		}
		return Response{Done: true}
	case "logs":
		if err := need(1); err != nil {
			return fail(err)
		}
		lines, err := s.M.Logs(names(req.Args)[0])
		if err != nil {
			return fail(err)
		}
		return Response{Lines: lines}
	case "history":
		h, err := s.M.History(names(req.Args)...)
		if err != nil {
			return fail(err)
		}
		return Response{History: h}
	case "boot":
		st, err := s.M.Status()
		if err != nil {
			return fail(err)
		}
		var bi BootInfo
		if s.Boot != nil {
			bi = s.Boot()
		}
		return Response{Boot: &bi, Services: st}
	case "level":
		if len(req.Args) == 0 {
			return Response{Level: s.M.Level().String()}
		}
		l, err := bootconf.ParseLevel(req.Args[0])
		if err != nil {
			return fail(err)
		}
		rep := s.M.SetLevel(l)
		return Response{Level: l.String(), Report: &rep}
	case "poweroff", "reboot":
		if s.Power == nil {
			return fail(errors.New("power control not available"))
		}
		if err := s.Power(req.Verb); err != nil {
			return fail(err)
		}
		return Response{Done: true}
	}
	return fail(fmt.Errorf("unknown verb %q", req.Verb))
}

func (s *Server) follow(c net.Conn, enc *json.Encoder, req Request) {
	if len(req.Args) == 0 {
		enc.Encode(Response{Error: "logs: want a unit name"})
		return
	}
	lines, ch, cancel, err := s.M.Follow(names(req.Args)[0])
	if err != nil {
		enc.Encode(Response{Error: err.Error()})
		return
	}
	defer cancel()
	if enc.Encode(Response{Lines: lines}) != nil {
		return
	}
	gone := make(chan struct{})
	guard.Go(s.Log, "control follower", func() { io.Copy(io.Discard, c); close(gone) }) // the client hanging up ends the stream
	for {
		select {
		case l, ok := <-ch:
			if !ok || enc.Encode(Response{Lines: []svc.LogLine{l}}) != nil {
				return
			}
		case <-gone:
			return
		}
	}
}

// events streams the init's events until the client hangs up or falls behind (then its
// connection is closed: the init never waits for a client).
func (s *Server) events(c net.Conn, enc *json.Encoder) {
	sub := s.M.Subscribe()
	defer sub.Cancel()
	gone := make(chan struct{})
	guard.Go(s.Log, "control events reader", func() { io.Copy(io.Discard, c); close(gone) })
	guard.Go(s.Log, "control events watch", func() {
		select {
		case <-sub.Dropped():
			if s.Log != nil {
				s.Log.Warn("events subscriber too slow, dropped")
			}
			c.Close() // ends a write blocked on the client
		case <-gone:
		}
	})
	hello := sub.Hello
	if enc.Encode(Response{Event: &hello}) != nil {
		return
	}
	for {
		select {
		case e, ok := <-sub.C:
			if !ok || enc.Encode(Response{Event: &e}) != nil {
				return
			}
		case <-gone:
			return
		}
	}
}

// names adds ".service" to bare names.
func names(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if !strings.Contains(a, ".") {
			a += ".service"
		}
		out[i] = a
	}
	return out
}

// Stream sends req to the socket at path and hands every Response, the first included, to each
// until ctx ends (nil), the server closes (nil), an answer carries an error (returned), or each
// returns an error (returned). For "events" the first is the hello: the caller is subscribed.
func Stream(ctx context.Context, path string, req Request, each func(Response) error) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return err
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for {
		var r Response
		if err := dec.Decode(&r); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading answer: %w", err)
		}
		if r.Error != "" {
			return errors.New(r.Error)
		}
		if err := each(r); err != nil {
			return err
		}
	}
}

// Call sends req to the socket at path and returns the first Response; with
// req.Follow or the verb "events", each further Response goes to more until ctx
// ends or the server closes.
func Call(ctx context.Context, path string, req Request, more func(Response) error) (Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, err
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	var first Response
	if err := dec.Decode(&first); err != nil {
		return Response{}, fmt.Errorf("reading answer: %w", err)
	}
	if first.Error != "" || !req.Follow && req.Verb != "events" || more == nil {
		return first, nil
	}
	for {
		var r Response
		if err := dec.Decode(&r); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return first, nil
			}
			return first, err
		}
		if err := more(r); err != nil {
			return first, err
		}
	}
}
