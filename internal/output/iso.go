package output

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/genai-os/genai-build/internal/bootmenu"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/iso"
)

// isoWriter writes the hybrid ISO: ISOLINUX for BIOS, the ESP image (shim, GRUB) for UEFI, and
// the isohybrid MBR so that the same file boots as a CD and from a USB stick. GRUB reads its menu,
// the kernel and the initramfs from the ISO 9660 side (it searches for /.disk/info).
type isoWriter struct{}

func (isoWriter) Loaders() []string { return []string{RoleISOLINUX, RoleLDLINUX, RoleMBR, RoleESP} }

func (isoWriter) Names(base string) []string { return []string{base + ".iso"} }

// isoLayout are the ISO 9660 paths of the boot chain.
const (
	isoKernel = "boot/vmlinuz"
	isoInitrd = "boot/initrd.img"
)

// ISOMenuPaths are the kernel's and initramfs's paths a menu for the ISO names.
func ISOMenuPaths() (kernel, initrd string) { return "/" + isoKernel, "/" + isoInitrd }

func (w isoWriter) Write(ctx context.Context, c *Chain, dir string) ([]Written, error) {
	files := []File{
		{Path: ".disk/info", Data: []byte(c.Title), Origin: "generated:image"}, // GRUB's embedded config searches for this file
		{Path: isoKernel, Source: c.Kernel, Origin: c.KernelOrigin},
		{Path: isoInitrd, Source: c.Initrd, Origin: "generated:initramfs"},
		{Path: "boot/grub/grub.cfg", Data: bootmenu.GRUB(c.Menu), Origin: "generated:boot-menu"},
		{Path: "boot/efi.img", Source: c.Loaders[RoleESP], Origin: "generated:esp (shim-signed, grub-efi-amd64-signed)"},
		{Path: "isolinux/isolinux.bin", Source: c.Loaders[RoleISOLINUX], Origin: "recipe:isolinux"},
		{Path: "isolinux/ldlinux.c32", Source: c.Loaders[RoleLDLINUX], Origin: "recipe:isolinux"},
		{Path: "isolinux/isolinux.cfg", Data: bootmenu.ISOLINUX(c.Menu), Origin: "generated:boot-menu"},
	}
	files = append(files, c.Medium...)
	t, err := isoTree(files)
	if err != nil {
		return nil, err
	}
	mbr, err := os.ReadFile(c.Loaders[RoleMBR])
	if err != nil {
		return nil, fmt.Errorf("isohybrid MBR: %w", err)
	}
	name := w.Names(c.Base)[0]
	spec := iso.Spec{
		VolumeID:   c.VolumeID,
		SourceDate: c.SourceDate,
		Files:      t,
		BIOS:       &iso.BIOSBoot{Image: "isolinux/isolinux.bin", Catalog: "isolinux/boot.cat"},
		UEFI:       &iso.UEFIBoot{Image: "boot/efi.img"},
		Hybrid:     mbr,
	}
	tmp := Temp(dir, name)
	if err := iso.Write(ctx, tmp, spec); err != nil {
		return nil, err
	}
	return []Written{{Name: name, Format: "iso", Path: tmp, Files: files}}, nil
}

// isoTree is the ISO 9660 side: each file read-only, from its bytes or its source file.
func isoTree(files []File) (*fstree.Tree, error) {
	t := fstree.New()
	for _, f := range files {
		e := fstree.Entry{Path: f.Path, Kind: fstree.File, Mode: 0o444, Source: f.Source, Data: f.Data, Origin: f.Origin, Size: int64(len(f.Data))}
		if f.Source != "" {
			fi, err := os.Stat(f.Source)
			if err != nil {
				return nil, err
			}
			e.Size = fi.Size()
		}
		if err := t.Add(e); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// VolumeID is an ISO 9660 label from an edition's name and version: upper case, '_' for what
// ECMA-119 7.4.1 does not allow, at most 32 characters.
func VolumeID(edition, version string) string {
	r := strings.NewReplacer(".", "_", "-", "_", "+", "_", "~", "_")
	v := strings.ToUpper("GENAI_" + r.Replace(edition) + "_" + r.Replace(version))
	if len(v) > 32 {
		v = v[:32]
	}
	return v
}
