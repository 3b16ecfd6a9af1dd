package pesign_test

import (
	"bytes"
	"debug/pe"
	"errors"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/pesign"
	"github.com/genai-os/genai-build/internal/sbkeys"
	"github.com/genai-os/genai-build/internal/uki"
	"github.com/genai-os/genai-build/internal/uki/ukitest"
)

func TestSignVerify(t *testing.T) {
	img, err := uki.Assemble(ukitest.Stub(t), []uki.Section{
		{Name: ".cmdline", Data: []byte("console=ttyS0")},
		{Name: ".linux", Data: bytes.Repeat([]byte{1, 2, 3}, 10001)},
	}, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sbkeys.Generate("Org")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sbkeys.Generate("Other")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := pesign.Sign(img, keys.DB)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pesign.Sign(img, keys.DB)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(signed, again) {
		t.Error("two signatures of the same image differ")
	}
	// No signingTime attribute (OID 1.2.840.113549.1.9.5, RFC 2985) anywhere in the signature.
	if bytes.Contains(signed[len(img):], []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05}) {
		t.Error("the signature carries a signing time")
	}
	f, err := pe.NewFile(bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	if d := f.OptionalHeader.(*pe.OptionalHeader64).DataDirectory[4]; d.Size == 0 || int(d.VirtualAddress+d.Size) != len(signed) {
		t.Errorf("Security directory %+v, file %d bytes", d, len(signed))
	}

	if err := pesign.Verify(signed, keys.DB.Cert); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := pesign.Verify(signed, other.DB.Cert); err == nil {
		t.Error("verifies with another key's certificate")
	}
	if err := pesign.Verify(img, keys.DB.Cert); err == nil {
		t.Error("the unsigned image verifies")
	}
	// One byte of the kernel section changed after signing.
	bad := bytes.Clone(signed)
	lin := f.Section(".linux")
	bad[lin.Offset+100] ^= 0xff
	if err := pesign.Verify(bad, keys.DB.Cert); err == nil {
		t.Error("a changed image verifies")
	}
	byOther, err := pesign.Sign(img, other.DB)
	if err != nil {
		t.Fatal(err)
	}
	if err := pesign.Verify(byOther, keys.DB.Cert); !errors.Is(err, pesign.ErrNotSigned) {
		t.Errorf("an image signed by another key: %v, want ErrNotSigned", err)
	}
}
