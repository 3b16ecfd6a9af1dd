// Package output is the registry of output formats: what a build writes its boot chain as. A boot
// chain is a kernel, an initramfs, a boot menu (the command lines), the boot loaders by role, and
// the files the medium carries beside them (the root's layers when the root is on the medium). A
// Writer turns one chain into image files; the edition manifest's `outputs:` names writers from
// this registry, and edition validation asks Lookup what exists.
//
//	iso            the hybrid ISO: BIOS (ISOLINUX) and UEFI (shim, GRUB) from a CD or a USB stick
//	kernel-initrd  the kernel and the initramfs written beside each other, for direct boots
//	               (qemu -kernel -initrd) in tests
//	disk-image     a raw GPT disk with an ESP (shim, GRUB, the A/B boot state), two root slots A and B
//	               and a data partition, its .zst, and the update bundle of slot A
//	uefi-iso       a UEFI-only ISO (CD and USB) whose ESP holds one unified kernel image signed
//	               with the organisation's own Secure Boot key
package output

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/genai-os/genai-build/internal/bootmenu"
)

// Roles of the boot-loader files a writer may need (Chain.Loaders).
const (
	RoleISOLINUX = "isolinux.bin"     // syslinux's El Torito loader
	RoleLDLINUX  = "ldlinux.c32"      // its core module
	RoleMBR      = "isohdpfx.bin"     // the isohybrid MBR
	RoleShim     = "shimx64.efi"      // the signed first-stage UEFI loader
	RoleGRUB     = "grubx64.efi"      // the signed GRUB shim loads (the CD image: prefix /boot/grub, finds /.disk/info)
	RoleDiskGRUB = "grubx64-disk.efi" // the signed GRUB for a disk: prefix /EFI/debian on its own partition
	RoleESP      = "efi.img"          // the UEFI system partition image (shim and GRUB), built from the two above
	RoleUKIStub  = "uki-stub"         // systemd's UEFI stub, the front of a unified kernel image
)

// Chain is one boot chain, independent of how it is written.
type Chain struct {
	// Base is the stem of every file name: genai-os-<edition>-<version>-<arch>.
	Base string
	// Title is what the medium calls itself (.disk/info); VolumeID its ISO 9660 label.
	Title    string
	VolumeID string
	// Kernel and Initrd are the files of the kernel and the (concatenated) initramfs.
	Kernel, Initrd string
	// KernelOrigin names the kernel's package, for the build manifest; KernelVersion is its
	// release (uname -r).
	KernelOrigin  string
	KernelVersion string
	// Edition and Version name the image (os-release's VARIANT_ID and VERSION_ID).
	Edition, Version string
	// Menu is the boot menu; its first entry's command line is the default.
	Menu bootmenu.Menu
	// Loaders are boot-loader files by role (Role*), as the writers' Loaders ask for them.
	Loaders map[string]string
	// Medium are files the medium carries besides the boot chain, by path on the medium.
	Medium     []File
	SourceDate time.Time
	// Sign signs a PE image (a unified kernel image) with the organisation's Secure Boot db key;
	// nil when the build has no keys. SignerID names the key (its certificate's digest), so a
	// change of key rebuilds the images.
	Sign     func(pe []byte) ([]byte, error)
	SignerID string
	// BuildID identifies the build (live/build-id); the disk image derives its GUIDs from it.
	BuildID string
	// Disk is the A/B disk image's layout, from the edition (the disk-image output).
	Disk DiskParams
	// Bundle writes the signed update bundle (internal/bundle) of a slot image to w; nil when the
	// build has no update key. The disk-image output calls it for <base>.bundle.
	Bundle func(ctx context.Context, slotImage string, w io.Writer) error
	// BundleOnly: the build keeps only the bundle (genai-build bundle); the disk-image writer
	// then writes the slot and its bundle, not the disk and its .zst.
	BundleOnly bool
}

// File is one file for the medium: from Source (a path) or Data.
type File struct {
	Path   string
	Source string
	Data   []byte
	Origin string
	// SHA256 is Source's digest when the caller knows it already (a cached layer's), so the
	// manifest need not read hundreds of megabytes again; empty: computed.
	SHA256 string
}

// Written is one image file a writer wrote.
type Written struct {
	Name   string // final file name, in the output folder
	Format string // "iso", "vmlinuz", "initrd"
	Path   string // where it was written (Temp of Name); the build renames it to Name
	// Files are the files the image holds (nil when it is a single file), for the build manifest.
	Files []File
}

// Writer writes a chain in one format.
type Writer interface {
	// Loaders are the roles of Chain.Loaders the writer needs.
	Loaders() []string
	// Names are the file names Write writes for a chain with this Base, in order.
	Names(base string) []string
	// Write writes each file of Names to Temp(dir, name), which the caller renames when every
	// output and its records are complete.
	Write(ctx context.Context, c *Chain, dir string) ([]Written, error)
}

// Temp is where a writer writes the file name in dir before the build renames it into place.
func Temp(dir, name string) string { return dir + "/" + name + ".partial" }

var registry = map[string]Writer{
	"iso":           isoWriter{},
	"kernel-initrd": kernelInitrd{},
	"uefi-iso":      uefiISO{},
	"disk-image":    diskImage{},
}

// Lookup returns the writer of a format.
func Lookup(name string) (Writer, bool) {
	w, ok := registry[name]
	return w, ok
}

// Names lists the registered formats, sorted.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// UnknownError is a format the registry lacks.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown output format %q; known: %v", e.Name, Names())
}
