package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

func newBoot(env Env, g *globals) *cobra.Command {
	var edName, firmware, media, accel, vars string
	var memory int
	var net bool
	var fwd []string
	cmd := &cobra.Command{
		Use:   "boot [IMAGE]",
		Short: "Boot an image in QEMU with the serial console on this terminal",
		Long: `Start QEMU on an image the way a PC boots it: --firmware bios (SeaBIOS), uefi (OVMF) or
secureboot (OVMF with Microsoft's keys enrolled and Secure Boot on), from --media cd (an AHCI
CD-ROM), usb (a USB stick, as written by dd), or a disk on the virtio, nvme or sata bus (the
embedded edition's raw disk image). The image is never changed: the guest's writes go to a
temporary overlay. The serial console is this terminal; quit with
Ctrl-A X. Without IMAGE, the edition's image in images/ is booted (build it first with
genai-build iso, or genai-build image for a disk image). Needs qemu-system-x86_64, and OVMF for UEFI (Debian: qemu-system-x86 ovmf).
KVM is used when it works, TCG otherwise (--accel). --vars boots with a UEFI variable store of
your own, such as the one 'genai-build keys init' writes with your keys enrolled (for the
enterprise edition: --firmware secureboot --vars KEYS/OVMF_VARS_4M.enrolled.fd); it is copied,
never changed.`,
		Example: `  genai-build boot --edition server
  genai-build boot images/genai-os-server-0.1.0-amd64.iso --firmware secureboot --media usb
  genai-build boot --firmware uefi --net --hostfwd tcp::2222-:22
  genai-build boot --edition embedded --firmware secureboot --media virtio
  genai-build boot --edition enterprise --firmware secureboot --vars ~/genai-keys/OVMF_VARS_4M.enrolled.fd`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fw, err := qemu.ParseFirmware(firmware)
			if err != nil {
				return err
			}
			md, err := qemu.ParseMedia(media)
			if err != nil {
				return err
			}
			var img string
			if len(args) == 1 {
				img = args[0]
			} else {
				root, err := g.repoRoot()
				if err != nil {
					return err
				}
				ed, err := edition.Set{Dir: filepath.Join(root, "editions")}.Load(edName)
				if err != nil {
					return err
				}
				format, verb := "iso", "iso"
				if slices.Contains(ed.Outputs, "disk-image") {
					format, verb = "img", "image"
				}
				img = filepath.Join(root, "images", build.ImageName(ed, format))
				if _, err := os.Stat(img); errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("%s does not exist: build it with `genai-build %s --edition %s`", img, verb, edName)
				}
			}
			if err := checkMemory(img, memory); err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "booting %s (firmware %s, media %s); quit with Ctrl-A X\n", img, fw, md)
			return qemu.Interactive(cmd.Context(), qemu.Config{Image: img, Firmware: fw, Media: md, MemoryMB: memory, Net: net, HostFwd: fwd, Vars: vars},
				qemu.Accel(accel), env.Stdin, env.Stdout, env.Stderr)
		},
	}
	cmd.Flags().StringVarP(&edName, "edition", "e", "server", "edition whose image to boot, when no IMAGE is given")
	cmd.Flags().StringVar(&firmware, "firmware", "bios", "bios, uefi or secureboot")
	cmd.Flags().StringVar(&media, "media", "cd", "cd, usb, or a disk: virtio, nvme, sata")
	cmd.Flags().StringVar(&vars, "vars", "", "a UEFI variable store `file` to boot with (copied), e.g. genai-build keys init's OVMF_VARS_4M.enrolled.fd")
	cmd.Flags().StringVar(&accel, "accel", "auto", "auto (KVM when usable), kvm or tcg")
	cmd.Flags().IntVar(&memory, "memory", 1024, "guest memory in MiB (refused below the image's minimum, which inspect shows)")
	cmd.Flags().BoolVar(&net, "net", false, "attach a virtio NIC on QEMU's user network")
	cmd.Flags().StringSliceVar(&fwd, "hostfwd", nil, "forward a host port to the guest, e.g. tcp::2222-:22 (implies --net)")
	return cmd
}

// ErrTooLittleMemory: --memory is below what the image needs (build.json's memory.min_mb).
var ErrTooLittleMemory = errors.New("too little memory for this image")

// checkMemory refuses a guest smaller than the image's computed minimum: the kernel would unpack
// part of the root and the init would stop with a failed line.
func checkMemory(img string, memoryMB int) error {
	data, err := iso.ReadFile(img, "genai/build.json")
	if err != nil {
		return nil // not one of ours, or older than the figure: QEMU and the init will tell
	}
	var m build.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: /genai/build.json: %w", img, err)
	}
	if m.Memory != nil && memoryMB < m.Memory.MinMB {
		return fmt.Errorf("%w: --memory %d, but the %s edition needs at least %d MiB (kernel %s, initramfs %s unpacking to %s, margin %s); give --memory %d or more",
			ErrTooLittleMemory, memoryMB, m.Edition, m.Memory.MinMB, mib(m.Memory.Kernel), mib(m.Memory.Initrd), mib(m.Memory.Unpacked), mib(m.Memory.Margin), m.Memory.MinMB)
	}
	return nil
}
