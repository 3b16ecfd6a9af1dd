// Package auditmsg sends user-space audit records to the kernel (NETLINK_AUDIT), as libaudit's
// audit_log_user_comm_message does for systemd: the init reports its units' starts and stops as
// SERVICE_START and SERVICE_STOP records. It is a few dozen lines so that PID 1 does not link an
// audit library.
package auditmsg

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Record types (include/uapi/linux/audit.h).
const (
	ServiceStart uint16 = 1130 // AUDIT_SERVICE_START
	ServiceStop  uint16 = 1131 // AUDIT_SERVICE_STOP
)

// Sender is an open NETLINK_AUDIT socket.
type Sender struct {
	mu  sync.Mutex
	fd  int
	seq uint32
}

// Open opens the socket; an error means the kernel has no audit (CONFIG_AUDIT off) or the caller
// may not use it.
func Open() (*Sender, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("audit netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("audit netlink bind: %w", err)
	}
	// The kernel's ack comes at once; never let PID 1 wait on it for long.
	tv := unix.NsecToTimeval(int64(time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &Sender{fd: fd}, nil
}

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }

// Send sends one record of type typ with text msg and waits for the kernel's answer. While audit
// is disabled the kernel drops the record and answers success (kernel/audit.c, audit_receive_msg).
func (s *Sender) Send(typ uint16, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	payload := append([]byte(msg), 0) // libaudit sends the text with its NUL
	b := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(payload)+3)
	// struct nlmsghdr (include/uapi/linux/netlink.h), in host byte order
	binary.NativeEndian.PutUint32(b[0:], uint32(unix.NLMSG_HDRLEN+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(b[8:], s.seq)
	b = append(b, payload...)
	for len(b)%4 != 0 { // NLMSG_ALIGN
		b = append(b, 0)
	}
	if err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("audit send: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			return fmt.Errorf("audit ack: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("audit ack: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != s.seq || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return fmt.Errorf("audit send: %w", unix.Errno(-errno))
			}
			return nil
		}
	}
}

// ServiceText is the text of a SERVICE_START/SERVICE_STOP record, as systemd writes it: the unit
// without its .service suffix, the reporting program, and res=success or res=failed. The kernel
// puts pid, uid, auid and ses in front.
func ServiceText(unit, comm, exe string, ok bool) string {
	res := "failed"
	if ok {
		res = "success"
	}
	return fmt.Sprintf("unit=%s comm=%q exe=%q hostname=? addr=? terminal=? res=%s",
		strings.TrimSuffix(unit, ".service"), comm, exe, res)
}
