package output

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/genai-os/genai-build/internal/esp"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/uki"
)

// uefiISO writes a UEFI-only ISO for Secure Boot with the organisation's own keys: its ESP holds
// one file, EFI/BOOT/BOOTX64.EFI, a unified kernel image (systemd's stub with the kernel, the
// initramfs, the command line, os-release and uname as sections) signed with the organisation's
// db key. The firmware verifies it, and with it everything the system trusts at boot: no shim, no
// GRUB, no menu to edit, no BIOS entry. The same file boots from a CD and from a USB stick (the
// MBR's only partition is the ESP).
type uefiISO struct{}

// UKIPath is where the signed UKI sits on the ESP: the removable-media default loader path (UEFI
// 2.10, 3.5.1.1), so that firmware boots it with no boot entry.
const UKIPath = "EFI/BOOT/BOOTX64.EFI"

func (uefiISO) Loaders() []string { return []string{RoleUKIStub} }

func (uefiISO) Names(base string) []string { return []string{base + ".iso"} }

// ErrNoSigner is a UKI output without the key to sign it.
var ErrNoSigner = errors.New("the uefi-iso output signs its unified kernel image with the organisation's db key: pass --keys DIR (make a key set with `genai-build keys init DIR`)")

// UKI assembles the chain's unified kernel image and signs it with c.Sign. Its sections, in the
// order systemd's ukify writes them (.linux last, where the stub leaves room to decompress):
// .osrel (with the digest of the build manifest on the medium), .cmdline (the menu's default
// entry: under Secure Boot the stub ignores any other), .uname, .initrd, .linux.
func UKI(c *Chain) ([]byte, error) {
	if c.Sign == nil {
		return nil, ErrNoSigner
	}
	stub, err := os.ReadFile(c.Loaders[RoleUKIStub])
	if err != nil {
		return nil, fmt.Errorf("UKI stub: %w", err)
	}
	kernel, err := os.ReadFile(c.Kernel)
	if err != nil {
		return nil, err
	}
	initrd, err := os.ReadFile(c.Initrd)
	if err != nil {
		return nil, err
	}
	if len(c.Menu.Entries) == 0 {
		return nil, errors.New("UKI: the boot menu has no entry to take the command line from")
	}
	sections := []uki.Section{
		{Name: ".osrel", Data: c.OSRelease()},
		{Name: ".cmdline", Data: []byte(strings.Join(c.Menu.Entries[0].Cmdline, " "))},
		{Name: ".uname", Data: []byte(c.KernelVersion)},
		{Name: ".initrd", Data: initrd},
		{Name: ".linux", Data: kernel},
	}
	pe, err := uki.Assemble(stub, sections, c.SourceDate)
	if err != nil {
		return nil, fmt.Errorf("UKI: %w", err)
	}
	signed, err := c.Sign(pe)
	if err != nil {
		return nil, fmt.Errorf("signing the UKI: %w", err)
	}
	return signed, nil
}

// OSRelease is the UKI's .osrel: os-release(5) fields of the image, and the SHA-256 of the build
// manifest the medium carries (genai/build.json), so the signed UKI vouches for the manifest.
func (c *Chain) OSRelease() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "NAME=\"GenAI OS\"\nID=genai-os\nPRETTY_NAME=%q\n", strings.TrimSpace(c.Title))
	if c.Edition != "" {
		fmt.Fprintf(&b, "VARIANT_ID=%s\nIMAGE_ID=genai-os-%s\n", c.Edition, c.Edition)
	}
	if c.Version != "" {
		fmt.Fprintf(&b, "VERSION_ID=%s\nIMAGE_VERSION=%s\n", c.Version, c.Version)
	}
	for _, f := range c.Medium {
		if f.Path == ManifestPath && f.Data != nil {
			sum := sha256.Sum256(f.Data)
			fmt.Fprintf(&b, "GENAI_BUILD_MANIFEST_SHA256=%s\n", hex.EncodeToString(sum[:]))
		}
	}
	return []byte(b.String())
}

// ManifestPath is where the build manifest sits on the medium.
const ManifestPath = "genai/build.json"

func (w uefiISO) Write(ctx context.Context, c *Chain, dir string) ([]Written, error) {
	signed, err := UKI(c)
	if err != nil {
		return nil, err
	}
	espFiles := fstree.New()
	if err := espFiles.Add(fstree.Entry{Path: UKIPath, Kind: fstree.File, Mode: 0o644, Data: signed, Size: int64(len(signed))}); err != nil {
		return nil, err
	}
	img, err := esp.Build(espFiles, c.SourceDate)
	if err != nil {
		return nil, fmt.Errorf("UEFI system partition: %w", err)
	}
	files := []File{
		{Path: ".disk/info", Data: []byte(c.Title), Origin: "generated:image"},
		{Path: "boot/efi.img", Data: img, Origin: "generated:esp (signed unified kernel image: systemd-stub, kernel, initramfs, command line)"},
	}
	files = append(files, c.Medium...)
	t, err := isoTree(files)
	if err != nil {
		return nil, err
	}
	name := w.Names(c.Base)[0]
	spec := iso.Spec{
		VolumeID:   c.VolumeID,
		SourceDate: c.SourceDate,
		Files:      t,
		UEFI:       &iso.UEFIBoot{Image: "boot/efi.img"},
		HybridUEFI: true,
	}
	tmp := Temp(dir, name)
	if err := iso.Write(ctx, tmp, spec); err != nil {
		return nil, err
	}
	return []Written{{Name: name, Format: "iso", Path: tmp, Files: files}}, nil
}
