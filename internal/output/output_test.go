package output

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	if got := strings.Join(Names(), " "); got != "disk-image iso kernel-initrd uefi-iso" {
		t.Errorf("Names() = %q", got)
	}
	if _, ok := Lookup("uki"); ok {
		t.Error("Lookup(uki) found a writer")
	}
	if err := (&UnknownError{Name: "uki"}).Error(); !strings.Contains(err, "known: [disk-image iso kernel-initrd uefi-iso]") {
		t.Errorf("UnknownError = %q", err)
	}
}

// TestVolumeID: ECMA-119 7.4.1 d-characters only, at most 32, whatever the edition's name.
func TestVolumeID(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"server", "0.1.0"}:                  "GENAI_SERVER_0_1_0",
		{"e2e-live", "1.0~rc1+b2"}:           "GENAI_E2E_LIVE_1_0_RC1_B2",
		{"developer", "10.20.30-long"}:       "GENAI_DEVELOPER_10_20_30_LONG",
		{"a-very-long-edition", "1.2"}:       "GENAI_A_VERY_LONG_EDITION_1_2",
		{"enterprise-extra", "2025.1"}:       "GENAI_ENTERPRISE_EXTRA_2025_1",
		{"x", "123456789012345678901234567"}: "GENAI_X_123456789012345678901234",
	} {
		if got := VolumeID(in[0], in[1]); got != want {
			t.Errorf("VolumeID(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// TestKernelInitrd writes the kernel and the initramfs under their temporary names, beside each
// other, with the bytes of the chain's files.
func TestKernelInitrd(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	c := &Chain{Base: "genai-os-x-1-amd64", Kernel: filepath.Join(src, "vmlinuz"), Initrd: filepath.Join(src, "initrd.img")}
	for p, body := range map[string]string{c.Kernel: "kernel", c.Initrd: "initramfs"} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := Lookup("kernel-initrd")
	got, err := w.Write(context.Background(), c, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("wrote %+v", got)
	}
	for i, want := range []struct{ name, format, body string }{
		{"genai-os-x-1-amd64.vmlinuz", "vmlinuz", "kernel"}, {"genai-os-x-1-amd64.initrd", "initrd", "initramfs"},
	} {
		b, err := os.ReadFile(got[i].Path)
		if got[i].Name != want.name || got[i].Format != want.format || got[i].Path != Temp(dir, want.name) || err != nil || string(b) != want.body {
			t.Errorf("file %d: %+v holds %q (%v), want %+v", i, got[i], b, err, want)
		}
	}
}

// TestOSRelease: the UKI's .osrel names the image and carries the digest of the build manifest on
// the medium, so that the signature over the UKI covers the manifest.
func TestOSRelease(t *testing.T) {
	manifest := []byte(`{"edition":"enterprise"}` + "\n")
	c := &Chain{Title: "GenAI OS enterprise 0.1.0 amd64 (2025-11-24)\n", Edition: "enterprise", Version: "0.1.0",
		Medium: []File{{Path: "live/build-id", Data: []byte("x\n")}, {Path: ManifestPath, Data: manifest}}}
	got := string(c.OSRelease())
	for _, want := range []string{
		"ID=genai-os\n", "VARIANT_ID=enterprise\n", "IMAGE_ID=genai-os-enterprise\n", "VERSION_ID=0.1.0\n",
		`PRETTY_NAME="GenAI OS enterprise 0.1.0 amd64 (2025-11-24)"` + "\n",
		// sha256sum of the manifest's bytes
		"GENAI_BUILD_MANIFEST_SHA256=" + sha256Hex(manifest) + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf(".osrel lacks %q:\n%s", want, got)
		}
	}
	if _, err := UKI(&Chain{}); err != ErrNoSigner {
		t.Errorf("UKI without a signer: %v, want ErrNoSigner", err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
