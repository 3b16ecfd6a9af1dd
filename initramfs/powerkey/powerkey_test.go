package powerkey

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

// event is one struct input_event as the kernel writes it on amd64.
func event(typ, code uint16, value int32) []byte {
	b := make([]byte, eventSize)
	binary.LittleEndian.PutUint64(b[0:], 1700000000) // tv_sec
	binary.LittleEndian.PutUint64(b[8:], 5)          // tv_usec
	binary.LittleEndian.PutUint16(b[16:], typ)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], uint32(value))
	return b
}

func TestReadPresses(t *testing.T) {
	const evSyn, keyA = 0, 30
	var stream []byte
	for _, e := range [][]byte{
		event(evKey, keyPower, 1), event(evSyn, 0, 0), event(evKey, keyPower, 0), event(evSyn, 0, 0), // press, release
		event(evKey, keyA, 1), event(evKey, keyPower, 2), // another key; an auto-repeat
		event(evKey, keyPower, 1), event(evKey, keyPower, 0), // the second press
	} {
		stream = append(stream, e...)
	}
	presses := 0
	// One byte at a time splits events: evdev never does, but no event may be lost or invented.
	err := ReadPresses(io.MultiReader(bytesReader(stream[:3*eventSize]), bytesReader(stream[3*eventSize:])), func() { presses++ })
	if !errors.Is(err, io.EOF) || presses != 2 {
		t.Errorf("presses = %d, err = %v; want 2, EOF", presses, err)
	}
	if err := ReadPresses(iotest.ErrReader(os.ErrClosed), func() {}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("err = %v", err)
	}
}

func bytesReader(b []byte) io.Reader { return iotest.OneByteReader(&wholeReader{b}) }

// wholeReader hands out its bytes once; OneByteReader on top makes reads of one byte, which
// ReadPresses must not mistake for events (a partial record is not an event).
type wholeReader struct{ b []byte }

func (w *wholeReader) Read(p []byte) (int, error) {
	if len(w.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, w.b)
	w.b = w.b[n:]
	return n, nil
}

func TestEviocgbit(t *testing.T) {
	// EVIOCGBIT(EV_KEY, 96) as C computes it: 0x80604521.
	if got := eviocgbit(evKey, keyMax/8+1); got != 0x80604521 {
		t.Errorf("EVIOCGBIT(EV_KEY, 96) = %#x, want 0x80604521", got)
	}
}

func TestHasBit(t *testing.T) {
	bits := make([]byte, keyMax/8+1)
	bits[keyPower/8] = 1 << (keyPower % 8)
	if !hasBit(bits, keyPower) || hasBit(bits, keyPower+1) || hasBit(bits, 5000) {
		t.Error("hasBit")
	}
}

func TestDevicesNotInput(t *testing.T) {
	// A file that is no input device: the ioctl fails, the error is reported, no device listed.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/event0", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	devs, err := Devices(dir)
	if len(devs) != 0 || err == nil {
		t.Errorf("Devices = %v, %v; want none and an error", devs, err)
	}
	if devs, err := Devices(t.TempDir()); len(devs) != 0 || err != nil {
		t.Errorf("empty dir: %v, %v", devs, err)
	}
}
