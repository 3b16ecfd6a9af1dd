// Package ukitest gives tests the real systemd-stub: linuxx64.efi.stub from Debian trixie's
// systemd-boot-efi, fetched the way genai-build fetches every package (the Packages indices the
// checkout's lock pins, so the .deb is verified by its SHA-256 from a signed InRelease) into the
// build cache. The binary is never committed. Only tests import it.
package ukitest

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debian/debiantest"
)

// Package and StubPath name the stub in Debian.
const (
	Package  = "systemd-boot-efi"
	StubPath = "usr/lib/systemd/boot/efi/linuxx64.efi.stub"
)

// Stub returns the stub's bytes. It fails the test on a wrong digest and skips it, loudly, only
// when the archive cannot be reached and the cache lacks the package.
func Stub(t testing.TB) []byte {
	t.Helper()
	r := debiantest.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ix, err := r.Fetcher.FetchLockedIndex(ctx, r.Lock)
	r.Need(t, "Packages indices of the lock", err)
	p, ok := ix.Lookup(Package)
	if !ok {
		t.Fatalf("%s is not in the locked Packages indices", Package)
	}
	path, err := r.Fetcher.FetchPackage(ctx, p)
	r.Need(t, Package, err)
	data, err := extract(path, StubPath)
	if err != nil {
		t.Fatalf("%s %s: %v", Package, p.Version, err)
	}
	return data
}

var errFound = errors.New("found")

func extract(deb, name string) ([]byte, error) {
	d, err := debian.OpenDeb(deb)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var data []byte
	err = d.WalkData(func(hdr *tar.Header, r io.Reader) error {
		if hdr.Name != name || hdr.Typeflag != tar.TypeReg {
			return nil
		}
		var err error
		if data, err = io.ReadAll(r); err != nil {
			return err
		}
		return errFound
	})
	if errors.Is(err, errFound) {
		return data, nil
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no %s in the package", name)
}
