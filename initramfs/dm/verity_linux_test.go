package dm

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseVerityParamsRefuses(t *testing.T) {
	root := strings.Repeat("00", 32)
	for _, s := range []string{
		"",
		root + " 00 1",
		root[2:] + " 00 1 2",
		root + " - 1 2",
		root + " 00 0 1",
		root + " 00 4 4",
		root + " 00 x 5",
		"zz" + root[2:] + " 00 1 2",
		root + " 00 1 2 3",
	} {
		if p, err := ParseVerityParams(s); err == nil {
			t.Errorf("ParseVerityParams(%q) = %s, want an error", s, p)
		}
	}
	s := root + " 0102 256 257"
	p, err := ParseVerityParams(s)
	if err != nil || p.String() != s {
		t.Errorf("ParseVerityParams(%q) = %s, %v", s, p, err)
	}
}

// TestVerityTarget: the table line of verity.rst's example shape, and the corruption options.
func TestVerityTarget(t *testing.T) {
	p := VerityParams{RootHash: bytes.Repeat([]byte{0xab}, 32), Salt: []byte{1, 2}, DataBlocks: 256, HashStartBlock: 257}
	base := "1 7:3 7:3 4096 4096 256 257 sha256 " + hex.EncodeToString(p.RootHash) + " 0102"
	for mode, want := range map[string]string{"": base, "eio": base, "restart": base + " 1 restart_on_corruption", "panic": base + " 1 panic_on_corruption"} {
		tg, err := VerityTarget("7:3", p, mode)
		if err != nil {
			t.Fatal(err)
		}
		if tg.Params != want || tg.Type != "verity" || tg.Start != 0 || tg.Length != 256*8 {
			t.Errorf("%q: %+v, want params %q over 2048 sectors", mode, tg, want)
		}
	}
	if _, err := VerityTarget("7:3", p, "ignore"); err == nil {
		t.Error("on corruption \"ignore\": want an error")
	}
}

// TestIoctlLayout: the ioctl numbers dm-ioctl.h gives (DM_DEV_CREATE is 0xc138fd03 on x86-64) and
// the header's fields where struct dm_ioctl has them.
func TestIoctlLayout(t *testing.T) {
	for cmd, want := range map[uint]uint{cmdDevCreate: 0xc138fd03, cmdDevRemove: 0xc138fd04, cmdDevSuspend: 0xc138fd06, cmdTableLoad: 0xc138fd09} {
		if got := ioctlNumber(cmd); got != want {
			t.Errorf("ioctl %d = %#x, want %#x", cmd, got, want)
		}
	}
	b, err := header("layer-system", "GENAI-VERITY-system", 400)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != 4 || le.Uint32(b[12:]) != 400 || le.Uint32(b[16:]) != 312 ||
		string(b[48:60]) != "layer-system" || string(b[176:195]) != "GENAI-VERITY-system" {
		t.Errorf("header % x", b[:200])
	}
	if _, err := header(strings.Repeat("n", 128), "", 312); err == nil {
		t.Error("a 128-byte name: want an error (DM_NAME_LEN counts the NUL)")
	}
}
