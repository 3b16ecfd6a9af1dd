// Package watchdog drives a Linux hardware watchdog (/dev/watchdog, the kernel's watchdog API,
// Documentation/watchdog/watchdog-api.rst): opening it arms it, each keepalive restarts its
// timer, and the magic close (writing 'V' before closing) disarms it, unless the kernel was
// built with CONFIG_WATCHDOG_NOWAYOUT (Debian's is not).
package watchdog

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Dog is an armed watchdog.
type Dog struct {
	f       *os.File
	Timeout time.Duration // what the driver took
	mu      sync.Mutex
	stop    chan struct{}
	stopped bool
}

// Open arms the watchdog at path and asks for timeout (the driver may round it, or keep its
// own when it cannot set one).
func Open(path string, timeout time.Duration) (*Dog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	d := &Dog{f: f, stop: make(chan struct{})}
	s := int(timeout / time.Second)
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, s); err != nil {
		s, err = unix.IoctlGetInt(int(f.Fd()), unix.WDIOC_GETTIMEOUT)
		if err != nil {
			s = 0
		}
	}
	d.Timeout = time.Duration(s) * time.Second
	return d, d.Keepalive()
}

// Keepalive restarts the timer.
func (d *Dog) Keepalive() error {
	if _, err := d.f.Write([]byte{0}); err != nil {
		return fmt.Errorf("watchdog keepalive: %w", err)
	}
	return nil
}

// Feed keeps the watchdog alive every interval until Disarm or Abandon, or until deadline has
// passed: from then on the timer runs out and the watchdog resets the machine (a boot that hangs
// is ended). It blocks; run it in its own goroutine.
func (d *Dog) Feed(interval time.Duration, deadline time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-t.C:
			if now.After(deadline) {
				return
			}
			d.mu.Lock()
			if !d.stopped {
				_ = d.Keepalive()
			}
			d.mu.Unlock()
		}
	}
}

// Disarm stops the feeding and disarms the watchdog with the magic close.
func (d *Dog) Disarm() error {
	d.halt()
	if _, err := d.f.Write([]byte("V")); err != nil {
		d.f.Close()
		return fmt.Errorf("watchdog magic close: %w", err)
	}
	return d.f.Close()
}

// Abandon stops the feeding and leaves the watchdog armed: the machine resets when its timer
// runs out, unless it reboots first.
func (d *Dog) Abandon() { d.halt() }

func (d *Dog) halt() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stopped {
		d.stopped = true
		close(d.stop)
	}
}
