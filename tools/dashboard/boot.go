package dashboard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/initramfs/boot"
)

// secureBootVar is the SecureBoot variable in efivarfs: EFI_GLOBAL_VARIABLE's GUID (UEFI 2.10,
// 3.3 "Globally Defined Variables"); efivarfs prefixes the value with its 4-byte attributes.
const secureBootVar = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

func bootChecks(s *System) []Finding {
	return []Finding{firmwareCheck(s), secureBootCheck(s), lockdownCheck(s), verityCheck(s)}
}

func firmwareCheck(s *System) Finding {
	f := Finding{Section: "boot", Check: "firmware"}
	if s.exists("/sys/firmware/efi") {
		f.Status, f.Reason = Pass, "UEFI (/sys/firmware/efi): Secure Boot is possible"
		f.Data = map[string]string{"firmware": "uefi"}
		return f
	}
	f.Status, f.Reason = Warn, "legacy BIOS (no /sys/firmware/efi): nothing verifies the boot loader or the kernel"
	f.Data = map[string]string{"firmware": "bios"}
	return f
}

// secureBootCheck reads the SecureBoot variable when efivarfs is mounted, else the boot
// parameters the EFI stub filled in, as consciousness-init does for its "genai-os: boot" line.
func secureBootCheck(s *System) Finding {
	f := Finding{Section: "boot", Check: "secure-boot"}
	state, source := "", ""
	if b, err := s.read(secureBootVar); err == nil && len(b) == 5 {
		state, source = map[bool]string{true: "on", false: "off"}[b[4] == 1], "the SecureBoot EFI variable"
	} else {
		fw, err := boot.ReadFirmware(s.Root)
		switch {
		case err != nil && fw.UEFI:
			state, source = "unknown", fmt.Sprintf("efivarfs not mounted and the boot parameters unreadable (%v)", err)
		default:
			state, source = fw.SecureBoot, "the boot parameters the EFI stub filled in (/sys/kernel/boot_params/data)"
			if !fw.UEFI {
				source = "a BIOS boot"
			}
		}
	}
	f.Data = map[string]string{"secure_boot": state}
	switch state {
	case "on":
		f.Status, f.Reason = Pass, "on, from "+source+": the firmware verified the boot chain (shim, GRUB and the kernel, or a signed unified kernel image)"
	case "off":
		f.Status, f.Reason = Warn, "off, from "+source+": any boot loader and kernel would have run"
	default:
		f.Status, f.Reason = Warn, "unknown: "+source
	}
	return f
}

// lockdownCheck reads the kernel lockdown mode (Documentation/ABI/testing/lockdown: the active
// mode in brackets). Without securityfs it probes /dev/mem, which lockdown's integrity mode
// closes even to root (LOCKDOWN_DEV_MEM).
func lockdownCheck(s *System) Finding {
	f := Finding{Section: "boot", Check: "lockdown"}
	mode := ""
	if b, err := s.read("/sys/kernel/security/lockdown"); err == nil {
		for _, w := range strings.Fields(string(b)) {
			if strings.HasPrefix(w, "[") && strings.HasSuffix(w, "]") {
				mode = strings.Trim(w, "[]")
			}
		}
		f.Details = append(f.Details, "/sys/kernel/security/lockdown: "+strings.TrimSpace(string(b)))
	} else if s.Root == "/" && s.Privileged {
		fd, err := os.Open("/dev/mem")
		switch {
		case err == nil:
			fd.Close()
			mode = "none"
			f.Details = append(f.Details, "securityfs is not mounted; root may open /dev/mem")
		case errors.Is(err, os.ErrPermission):
			mode = "integrity"
			f.Details = append(f.Details, "securityfs is not mounted; /dev/mem refused to root, as lockdown's integrity mode does")
		}
	}
	f.Data = map[string]string{"lockdown": mode}
	switch mode {
	case "integrity", "confidentiality":
		f.Status, f.Reason = Pass, mode+": root cannot change the running kernel (no unsigned modules, /dev/mem, kexec of unsigned kernels)"
	case "none":
		f.Status, f.Reason = Warn, "none: root can change the running kernel"
	default:
		f.Status, f.Reason = Warn, "unknown: /sys/kernel/security is not mounted (mount -t securityfs securityfs /sys/kernel/security)"
		f.Data["lockdown"] = "unknown"
	}
	return f
}

// mount is one line of /proc/self/mounts.
type mount struct{ dev, dir, fstype string }

func (s *System) mounts() ([]mount, error) {
	b, err := s.read("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	var out []mount
	for _, l := range lines(b) {
		f := strings.Fields(l)
		if len(f) >= 3 {
			out = append(out, mount{unescapeMount(f[0]), unescapeMount(f[1]), f[2]})
		}
	}
	return out, nil
}

// unescapeMount undoes the octal escapes of /proc/self/mounts (fs/proc_namespace.c: space, tab,
// newline and backslash as \ooo).
func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// verityCheck says whether the root is a dm-verity device. Device mapper targets show in
// /sys/block/dm-N/dm; veritysetup's devices have a UUID starting CRYPT-VERITY-.
func verityCheck(s *System) Finding {
	f := Finding{Section: "boot", Check: "verity-root"}
	var verity, layers []string
	dms, _ := filepath.Glob(s.path("/sys/block/dm-*"))
	sort.Strings(dms)
	for _, d := range dms {
		uuid, _ := os.ReadFile(filepath.Join(d, "dm/uuid"))
		name, _ := os.ReadFile(filepath.Join(d, "dm/name"))
		if strings.HasPrefix(string(uuid), "CRYPT-VERITY-") {
			verity = append(verity, strings.TrimSpace(string(name)))
		}
		// The init's own (initramfs/live): one device per layer of a root on the medium.
		if strings.HasPrefix(string(uuid), "GENAI-VERITY-") {
			layers = append(layers, strings.TrimSpace(string(name)))
		}
	}
	ms, err := s.mounts()
	if err != nil {
		f.Status, f.Reason = Warn, fmt.Sprintf("cannot tell: %v", err)
		return f
	}
	var root mount
	for _, m := range ms {
		if m.dir == "/" {
			root = m // the last mount on / is the one in use
		}
	}
	f.Details = append(f.Details, fmt.Sprintf("root: %s (%s)", root.dev, root.fstype))
	f.Data = map[string]string{"root_fstype": root.fstype, "verity": "not used"}
	for _, v := range verity {
		if root.dev == "/dev/mapper/"+v || strings.HasSuffix(root.dev, "/"+v) {
			f.Data["verity"] = v
			f.Status, f.Reason = Pass, "the root is the dm-verity device "+v+": every block is checked against its hash tree"
			return f
		}
	}
	if root.fstype == "overlay" && len(layers) > 0 {
		f.Data["verity"] = strings.Join(layers, ",")
		f.Status, f.Reason = Pass, fmt.Sprintf("the root's %d layers are read through dm-verity (%s): every block is checked against its hash tree, with root hashes from the initramfs", len(layers), strings.Join(layers, ", "))
		return f
	}
	f.Status = Warn
	switch root.fstype {
	case "rootfs", "tmpfs", "ramfs":
		f.Reason = "not used: the root is the initramfs unpacked into RAM; Secure Boot verifies the kernel, not the initramfs"
	case "overlay":
		f.Reason = "not used: the root is SquashFS layers under an overlay, matched to the build by size and build id at boot, not checked block by block"
	default:
		f.Reason = "not used: the root " + root.dev + " is not a dm-verity device"
	}
	return f
}
