package boot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadFirmware(t *testing.T) {
	params := func(mode byte) []byte {
		b := make([]byte, 4096)
		b[secureBootOffset] = mode
		return b
	}
	for _, tt := range []struct {
		name   string
		efi    bool
		params []byte
		want   Firmware
	}{
		{"bios", false, nil, Firmware{UEFI: false, SecureBoot: "off"}},
		{"uefi, secure boot disabled", true, params(2), Firmware{UEFI: true, SecureBoot: "off"}},
		{"uefi, secure boot enabled", true, params(3), Firmware{UEFI: true, SecureBoot: "on"}},
		{"uefi, mode unknown", true, params(1), Firmware{UEFI: true, SecureBoot: "unknown"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.efi {
				if err := os.MkdirAll(filepath.Join(root, "sys/firmware/efi"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.params != nil {
				p := filepath.Join(root, "sys/kernel/boot_params/data")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, tt.params, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadFirmware(root)
			if err != nil || got != tt.want {
				t.Errorf("ReadFirmware = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
