package dm_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/initramfs/dm"
	"github.com/genai-os/genai-build/internal/verity"
)

// needVerity skips the test unless it can make a verity device here: root, and dm-verity in the
// host kernel (loaded, or loadable with modprobe). It says which is missing.
func needVerity(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: not root: device-mapper ioctls need CAP_SYS_ADMIN")
	}
	if _, err := os.Stat("/sys/module/dm_verity"); err != nil {
		if out, err := execModprobe("dm_verity"); err != nil {
			t.Skipf("SKIPPED: no dm-verity in the host kernel (/sys/module/dm_verity absent; modprobe dm_verity: %v %s)", err, out)
		}
	}
	if _, err := os.Stat(dm.ControlPath); err != nil {
		t.Skipf("SKIPPED: no device-mapper control node: %v", err)
	}
}

// TestVerityDevice makes a real verity device over a loop device: a file with its tree appended
// (internal/verity), read through the device; then one data byte flipped in the file, and the read
// of that block fails with EIO while another block still reads.
func TestVerityDevice(t *testing.T) {
	needVerity(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "layer")
	data := make([]byte, 64<<10)
	for i := 0; i < len(data); i += sha256.Size {
		s := sha256.Sum256([]byte(fmt.Sprint(i)))
		copy(data[i:], s[:])
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := verity.Append(file)
	if err != nil {
		t.Fatal(err)
	}
	read := func(onCorruption string) (first, third []byte, errFirst, errThird error) {
		t.Helper()
		loop := attach(t, file)
		tg, err := dm.VerityTarget(loop, p, onCorruption)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("genai-test-%d", os.Getpid())
		dev, err := dm.Create(name, "", []dm.Target{tg}, true)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := dm.Remove(name); err != nil {
				t.Error(err)
			}
		}()
		if err := dm.WaitNode(dm.Node(dev), 5*time.Second); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(dm.Node(dev), os.O_RDONLY|unix.O_DIRECT, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := alignedBlock()
		_, errFirst = f.ReadAt(buf, 0)
		first = append([]byte(nil), buf...)
		_, errThird = f.ReadAt(buf, 2*4096)
		third = append([]byte(nil), buf...)
		return
	}
	first, third, e1, e3 := read("eio")
	if e1 != nil || e3 != nil || !bytes.Equal(first, data[:4096]) || !bytes.Equal(third, data[8192:12288]) {
		t.Fatalf("an intact device: reads %v, %v (data equal: %v, %v)", e1, e3, bytes.Equal(first, data[:4096]), bytes.Equal(third, data[8192:12288]))
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{data[100] ^ 0xff}, 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, third, e1, e3 = read("eio")
	if !errors.Is(e1, unix.EIO) {
		t.Errorf("reading the corrupted block 0: %v, want EIO", e1)
	}
	if e3 != nil || !bytes.Equal(third, data[8192:12288]) {
		t.Errorf("reading block 2 of the corrupted device: %v, want its data", e3)
	}
}

// alignedBlock is a 4096-byte buffer aligned for O_DIRECT (which bypasses the page cache, so each
// read goes to the verity target).
func alignedBlock() []byte {
	b := make([]byte, 2*4096)
	off := 4096 - int(uintptr(unsafe.Pointer(&b[0]))%4096)
	return b[off%4096 : off%4096+4096]
}

// attach binds file to a free loop device read-only and returns its "major:minor"; the device goes
// when the test ends.
func attach(t *testing.T, file string) string {
	t.Helper()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/dev/loop%d", n)
	lf, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	bf, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	cfg := unix.LoopConfig{Fd: uint32(bf.Fd()), Info: unix.LoopInfo64{Flags: unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_AUTOCLEAR}}
	if err := unix.IoctlLoopConfigure(int(lf.Fd()), &cfg); err != nil {
		lf.Close()
		t.Fatalf("%s: LOOP_CONFIGURE: %v", path, err)
	}
	t.Cleanup(func() { lf.Close() })
	var st unix.Stat_t
	if err := unix.Fstat(int(lf.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
}

// execModprobe runs the host's modprobe, if it has one.
func execModprobe(module string) (string, error) {
	out, err := exec.Command("modprobe", module).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
