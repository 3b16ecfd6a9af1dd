package netconf

import (
	"context"
	"errors"
	"sync"

	uiorand "github.com/u-root/uio/rand"
	"golang.org/x/sys/unix"
)

// xidReader feeds the DHCP library's transaction IDs. Its default reader waits
// for the kernel's CRNG to be initialized, which under emulation without
// virtio-rng takes longer than the whole DHCP exchange may. A transaction ID
// only has to differ between clients (RFC 2131 section 4.1), so this falls
// back to getrandom(2)'s GRND_INSECURE (Linux 5.6) when the CRNG is not ready.
type xidReader struct{}

func (xidReader) Read(b []byte) (int, error) { return xidReader{}.ReadContext(context.Background(), b) }

func (xidReader) ReadContext(_ context.Context, b []byte) (int, error) {
	n, err := unix.Getrandom(b, unix.GRND_NONBLOCK)
	if errors.Is(err, unix.EAGAIN) {
		n, err = unix.Getrandom(b, unix.GRND_INSECURE)
	}
	return n, err
}

var useXIDReader = sync.OnceFunc(func() { uiorand.Reader = xidReader{} })
