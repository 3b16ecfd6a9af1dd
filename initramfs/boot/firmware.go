package boot

import (
	"errors"
	"os"
	"path/filepath"
)

// Firmware is how the machine booted, as the kernel saw it.
type Firmware struct {
	UEFI bool
	// SecureBoot is "on", "off" or "unknown" (always "off" under BIOS).
	SecureBoot string
}

// secureBootOffset is boot_params.secure_boot (Documentation/arch/x86/zero-page.rst: 0x1EC, 1 byte),
// set by the EFI stub to an efi_secureboot_mode (include/linux/efi.h: 0 unset, 1 unknown,
// 2 disabled, 3 enabled).
const secureBootOffset = 0x1EC

// ReadFirmware reads /sys/firmware/efi (present only when booted by UEFI) and the boot
// parameters the kernel exports at /sys/kernel/boot_params/data (arch/x86/kernel/ksysfs.c).
func ReadFirmware(root string) (Firmware, error) {
	fw := Firmware{SecureBoot: "off"}
	if _, err := os.Stat(filepath.Join(root, "sys/firmware/efi")); err == nil {
		fw.UEFI = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return fw, err
	}
	if !fw.UEFI {
		return fw, nil
	}
	fw.SecureBoot = "unknown"
	data, err := os.ReadFile(filepath.Join(root, "sys/kernel/boot_params/data"))
	if err != nil {
		return fw, err
	}
	if len(data) > secureBootOffset {
		switch data[secureBootOffset] {
		case 2:
			fw.SecureBoot = "off"
		case 3:
			fw.SecureBoot = "on"
		}
	}
	return fw, nil
}

// Name is "uefi" or "bios".
func (f Firmware) Name() string {
	if f.UEFI {
		return "uefi"
	}
	return "bios"
}
