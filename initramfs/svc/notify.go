package svc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// notifyMsg is one sd_notify datagram (sd_notify(3)).
type notifyMsg struct {
	pid      int
	ready    bool
	stopping bool
	status   string
	hasStat  bool
	mainPID  int
}

func parseNotify(pid int, b []byte) notifyMsg {
	m := notifyMsg{pid: pid}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch k {
		case "READY":
			m.ready = v == "1"
		case "STOPPING":
			m.stopping = v == "1"
		case "STATUS":
			m.status, m.hasStat = v, true
		case "MAINPID":
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				m.mainPID = n
			}
		}
	}
	return m
}

// listenNotify opens the NOTIFY_SOCKET datagram socket with SO_PASSCRED, so
// that each message carries the sender's pid (unix(7), SCM_CREDENTIALS).
func listenNotify(path string) (*net.UnixConn, error) {
	os.Remove(path)
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		serr = err
	}
	if serr != nil {
		c.Close()
		return nil, serr
	}
	// Services run as other users must be able to send.
	if err := os.Chmod(path, 0o777); err != nil {
		c.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return c, nil
}

// readNotify reads messages until the socket is closed.
func readNotify(c *net.UnixConn, deliver func(notifyMsg)) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pid := 0
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if cred, err := unix.ParseUnixCredentials(&m); err == nil {
					pid = int(cred.Pid)
				}
			}
		}
		if pid == 0 {
			continue // no credentials: we cannot tell who sent it
		}
		deliver(parseNotify(pid, buf[:n]))
	}
}
