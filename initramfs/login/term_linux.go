package login

import (
	"os"

	"golang.org/x/sys/unix"
)

// TermEcho returns a Getty.Echo for a terminal: it sets or clears ECHO in its termios(3).
func TermEcho(f *os.File) func(on bool) error {
	return func(on bool) error {
		fd := int(f.Fd())
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return err
		}
		if on {
			t.Lflag |= unix.ECHO
		} else {
			t.Lflag &^= unix.ECHO
		}
		return unix.IoctlSetTermios(fd, unix.TCSETS, t)
	}
}
