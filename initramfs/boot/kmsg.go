package boot

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
)

// runInit is how the kernel logs its exec of the init (init/main.c run_init_process).
const runInit = "Run /init as init process"

// KernelRanInit returns when, in ms since the kernel started, it ran /init, as its own log
// (/dev/kmsg) says; ok is false if the record is not there (or has been overwritten).
func KernelRanInit() (ms int64, ok bool) {
	// O_NONBLOCK: reading past the last record returns EAGAIN instead of waiting for more. A raw fd,
	// as os.File would park the read in Go's poller instead.
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(fd)
	return findKmsg(kmsgReader(fd), runInit)
}

// kmsgReader reads one record per read(2), as /dev/kmsg hands them out.
type kmsgReader int

func (fd kmsgReader) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// findKmsg reads /dev/kmsg records ("PRI,SEQ,USEC,FLAGS;TEXT", Documentation/ABI/testing/dev-kmsg)
// from r until one's text is text, and returns its timestamp in ms.
func findKmsg(r io.Reader, text string) (int64, bool) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if rec, msg, found := strings.Cut(line, ";"); found && strings.TrimRight(msg, "\n") == text {
			if f := strings.Split(rec, ","); len(f) >= 3 {
				if us, err := strconv.ParseInt(f[2], 10, 64); err == nil {
					return us / 1000, true
				}
			}
		}
		// Each read(2) of /dev/kmsg returns one record; EPIPE says records were overwritten since
		// the last read, and reading goes on from the oldest one left.
		if err != nil && !errors.Is(err, syscall.EPIPE) {
			return 0, false
		}
	}
}

// unpackFailed starts the kernel's report of an initramfs it could not unpack whole (init/initramfs.c,
// do_populate_rootfs: "Initramfs unpacking failed: %s", e.g. "write error" when memory ran out).
const unpackFailed = "Initramfs unpacking failed"

// KernelUnpackFailure returns the kernel's own report that it could not unpack the initramfs, as
// its log (/dev/kmsg) has it; ok is false when there is none (or the log is unreadable).
func KernelUnpackFailure() (text string, ok bool) {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer syscall.Close(fd)
	return findKmsgPrefix(kmsgReader(fd), unpackFailed)
}

// findKmsgPrefix reads /dev/kmsg records from r until one's text starts with prefix, and returns
// that text.
func findKmsgPrefix(r io.Reader, prefix string) (string, bool) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if _, msg, found := strings.Cut(line, ";"); found && strings.HasPrefix(msg, prefix) {
			return strings.TrimRight(msg, "\n"), true
		}
		if err != nil && !errors.Is(err, syscall.EPIPE) {
			return "", false
		}
	}
}
