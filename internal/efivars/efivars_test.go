package efivars_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/efivars"
	"github.com/genai-os/genai-build/internal/sbkeys"
)

const ovmfDir = "/usr/share/OVMF/"

// template reads one of Debian's OVMF variable stores; the test is skipped only when OVMF is not
// installed.
func template(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(ovmfDir + name)
	if os.IsNotExist(err) {
		t.Skipf("%s%s is absent: install OVMF (Debian: apt-get install ovmf)", ovmfDir, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnroll(t *testing.T) {
	s, err := sbkeys.Generate("Test Org")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"OVMF_VARS_4M.fd", "OVMF_VARS_4M.ms.fd"} {
		t.Run(name, func(t *testing.T) {
			tmpl := template(t, name)
			orig := bytes.Clone(tmpl)
			out, err := efivars.Enroll(tmpl, s.PK.Cert, s.KEK.Cert, s.DB.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tmpl, orig) {
				t.Fatal("Enroll changed its template")
			}
			if len(out) != len(tmpl) || !bytes.Equal(out[:100], tmpl[:100]) {
				t.Fatal("the firmware volume and store headers changed")
			}
			vars, err := efivars.Variables(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				guid [16]byte
				want []byte
			}{
				{"PK", efivars.GlobalVariable, esl(t, s.PK)},
				{"KEK", efivars.GlobalVariable, esl(t, s.KEK)},
				{"db", efivars.ImageSecurityDB, esl(t, s.DB)},
				{"dbx", efivars.ImageSecurityDB, efivars.DummyDBX(sbkeys.OwnerGUID(s.PK.Cert))},
				{"SecureBootEnable", efivars.SecureBootEnableGUID, []byte{1}},
				{"CustomMode", efivars.CustomModeGUID, []byte{0}},
			} {
				n := 0
				for _, v := range vars {
					if v.Name == c.name && v.GUID == c.guid {
						n++
					}
				}
				v, ok := efivars.Lookup(vars, c.name, c.guid)
				if !ok || n != 1 || !bytes.Equal(v.Data, c.want) {
					t.Errorf("%s: %d live copies, data %x, want one with %x", c.name, n, v.Data, c.want)
				}
				if c.name == "PK" && v.Attributes != 0x27 {
					t.Errorf("PK attributes %#x, want NV|BS|RT|TIME_BASED_AUTH 0x27", v.Attributes)
				}
			}
			checkLayout(t, out)
		})
	}
}

func esl(t *testing.T, p sbkeys.Pair) []byte {
	b, err := sbkeys.ESL(p.Cert)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkLayout walks the store independently of the package: every header starts 4-byte aligned
// with 0x55AA, the free space after the last one is all 0xFF.
func checkLayout(t *testing.T, fv []byte) {
	t.Helper()
	off := 72 + 28
	end := 72 + int(binary.LittleEndian.Uint32(fv[72+16:]))
	n := 0
	for binary.LittleEndian.Uint16(fv[off:]) == 0x55AA {
		if off%4 != 0 {
			t.Fatalf("variable %d at %#x not 4-byte aligned", n, off)
		}
		if s := fv[off+2]; s != 0x3F && s != 0x3D && s != 0x3C {
			t.Errorf("variable %d state %#x", n, s)
		}
		off += 60 + int(binary.LittleEndian.Uint32(fv[off+36:])) + int(binary.LittleEndian.Uint32(fv[off+40:]))
		off = (off + 3) &^ 3
		n++
	}
	if n < 6 {
		t.Errorf("%d variables", n)
	}
	for i := off; i < end; i++ {
		if fv[i] != 0xFF {
			t.Fatalf("free space not erased at %#x", i)
		}
	}
}

func TestSetErrors(t *testing.T) {
	tmpl := template(t, "OVMF_VARS_4M.fd")
	for _, c := range []struct {
		name string
		fv   []byte
		v    efivars.Variable
		want string
	}{
		{"not a store", make([]byte, 4096), efivars.Variable{Name: "x"}, "not an edk2 variable store"},
		{"truncated", tmpl[:len(tmpl)/2], efivars.Variable{Name: "x"}, "firmware volume length"},
		{"too big", tmpl, efivars.Variable{Name: "big", Data: make([]byte, 300<<10)}, "do not fit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := efivars.Set(c.fv, c.v)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Set: %v, want %q", err, c.want)
			}
		})
	}
}

func TestSetReplaces(t *testing.T) {
	fv := template(t, "OVMF_VARS_4M.fd")
	g := efivars.GUID("01234567-89ab-cdef-0123-456789abcdef")
	for _, d := range []string{"one", "two"} {
		var err error
		if fv, err = efivars.Set(fv, efivars.Variable{Name: "Test", GUID: g, Attributes: 7, Data: []byte(d)}); err != nil {
			t.Fatal(err)
		}
	}
	vars, err := efivars.Variables(fv)
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) != 1 || string(vars[0].Data) != "two" {
		t.Errorf("variables %+v, want only Test=two", vars)
	}
	if g[0] != 0x67 || g[3] != 0x01 || g[4] != 0xab || g[8] != 0x01 {
		t.Errorf("GUID byte order %x", g)
	}
}
