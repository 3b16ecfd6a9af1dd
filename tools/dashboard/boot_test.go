package dashboard

import (
	"strings"
	"testing"
)

func bootParams(secure byte) string {
	b := make([]byte, 4096)
	b[secureBootOffsetForTest] = secure
	return string(b)
}

// secureBootOffsetForTest is boot_params.secure_boot (Documentation/arch/x86/zero-page.rst).
const secureBootOffsetForTest = 0x1EC

func TestBootChecks(t *testing.T) {
	efi := map[string]string{"sys/firmware/efi/": ""}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		check  string
		status Status
		data   string // key=value expected in Data
		reason string
	}{
		{"bios", map[string]string{}, "firmware", Warn, "firmware=bios", "legacy BIOS"},
		{"uefi", efi, "firmware", Pass, "firmware=uefi", "UEFI"},
		{"bios no secure boot", map[string]string{}, "secure-boot", Warn, "secure_boot=off", "a BIOS boot"},
		{"efivar on", with(efi, map[string]string{secureBootVar[1:]: "\x06\x00\x00\x00\x01"}), "secure-boot", Pass, "secure_boot=on", "SecureBoot EFI variable"},
		{"efivar off", with(efi, map[string]string{secureBootVar[1:]: "\x06\x00\x00\x00\x00"}), "secure-boot", Warn, "secure_boot=off", "SecureBoot EFI variable"},
		{"boot params on", with(efi, map[string]string{"sys/kernel/boot_params/data": bootParams(3)}), "secure-boot", Pass, "secure_boot=on", "boot parameters"},
		{"boot params disabled", with(efi, map[string]string{"sys/kernel/boot_params/data": bootParams(2)}), "secure-boot", Warn, "secure_boot=off", "boot parameters"},
		{"boot params unreadable", efi, "secure-boot", Warn, "secure_boot=unknown", "unreadable"},
		{"lockdown integrity", map[string]string{"sys/kernel/security/lockdown": "none [integrity] confidentiality\n"}, "lockdown", Pass, "lockdown=integrity", "root cannot change"},
		{"lockdown none", map[string]string{"sys/kernel/security/lockdown": "[none] integrity confidentiality\n"}, "lockdown", Warn, "lockdown=none", "root can change"},
		{"lockdown unknown", map[string]string{}, "lockdown", Warn, "lockdown=unknown", "securityfs"},
		{"initramfs root", map[string]string{"proc/self/mounts": "rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\n"}, "verity-root", Warn, "verity=not used", "initramfs unpacked into RAM"},
		{"overlay root", map[string]string{"proc/self/mounts": "rootfs / rootfs rw 0 0\noverlay / overlay rw 0 0\n"}, "verity-root", Warn, "root_fstype=overlay", "SquashFS layers"},
		{"verity layers", map[string]string{"proc/self/mounts": "rootfs / rootfs rw 0 0\noverlay / overlay rw 0 0\n",
			"sys/block/dm-0/dm/uuid": "GENAI-VERITY-programs\n", "sys/block/dm-0/dm/name": "live-programs\n",
			"sys/block/dm-1/dm/uuid": "GENAI-VERITY-system\n", "sys/block/dm-1/dm/name": "live-system\n"}, "verity-root", Pass, "verity=live-programs,live-system", "2 layers are read through dm-verity"},
		{"verity root", map[string]string{"proc/self/mounts": "/dev/mapper/root / erofs ro 0 0\n",
			"sys/block/dm-0/dm/uuid": "CRYPT-VERITY-0123-root\n", "sys/block/dm-0/dm/name": "root\n"}, "verity-root", Pass, "verity=root", "dm-verity"},
		{"dm but not verity", map[string]string{"proc/self/mounts": "/dev/mapper/root / ext4 rw 0 0\n",
			"sys/block/dm-0/dm/uuid": "CRYPT-LUKS2-0123-root\n", "sys/block/dm-0/dm/name": "root\n"}, "verity-root", Warn, "verity=not used", "not a dm-verity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := only(t, bootChecks(fixture(t, tc.files)), tc.check)
			k, v, _ := strings.Cut(tc.data, "=")
			if f.Status != tc.status || f.Data[k] != v || !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("got %s %v %q, want %s %s and a reason with %q", f.Status, f.Data, f.Reason, tc.status, tc.data, tc.reason)
			}
		})
	}
}
