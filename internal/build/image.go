package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/genai-os/genai-build/internal/bootmenu"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/memreq"
)

// Input is one outside input of the build, for the manifest.
type Input struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size,omitempty"`
	From    string `json:"from"`
	Recipe  string `json:"recipe"`
}

// Manifest is the build record written next to the image (and, without the image's own digest,
// into it as /genai/build.json).
type Manifest struct {
	Edition         string       `json:"edition"`
	Version         string       `json:"version"`
	Arch            string       `json:"arch"`
	SourceDateEpoch int64        `json:"source_date_epoch"`
	Kernel          string       `json:"kernel"`
	Cmdline         []string     `json:"cmdline"`
	Image           *ImageRecord `json:"image,omitempty"`
	Inputs          []Input      `json:"inputs"`
	// Packages are the Debian packages unpacked into the root tree, with their licences.
	Packages []InstalledPackage `json:"packages,omitempty"`
	// Memory is the least memory the image boots with, computed by the build (internal/memreq).
	Memory *memreq.Estimate `json:"memory,omitempty"`
	Files  []FileRecord     `json:"files"`
}

// ImageRecord describes the written image.
type ImageRecord struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// image lays out the ISO 9660 side, writes the image under a temporary name, then its checksum and
// manifest, and renames the image into place last.
func (s *state) image(ctx context.Context) error {
	t := fstree.New()
	menu, err := s.menu()
	if err != nil {
		return err
	}
	add := func(p, src string, data []byte, origin string) error {
		e := fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o444, Source: src, Data: data, Origin: origin}
		if src != "" {
			fi, err := os.Stat(src)
			if err != nil {
				return err
			}
			e.Size = fi.Size()
		}
		return t.Add(e)
	}
	info := fmt.Sprintf("GenAI OS %s %s %s (%s)\n", s.ed.Name, s.ed.Version, s.ed.Arch, s.opts.SourceDate.UTC().Format("2006-01-02"))
	kernelOrigin := "kernel:" + s.kernel.Package.Name + " " + s.kernel.Package.Version
	buildJSON, err := json.MarshalIndent(s.manifest(nil), "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path, src string
		data      []byte
		origin    string
	}{
		{".disk/info", "", []byte(info), "generated:image"}, // GRUB's embedded config searches for this file
		{"boot/vmlinuz", s.kernel.vmlinuz(), nil, kernelOrigin},
		{"boot/initrd.img", s.initrd, nil, "generated:initramfs"},
		{"boot/grub/grub.cfg", "", bootmenu.GRUB(menu), "generated:boot-menu"},
		{"boot/efi.img", s.debFiles["efi.img"], nil, "generated:esp (shim-signed, grub-efi-amd64-signed)"},
		{"isolinux/isolinux.bin", s.debFiles[roleISOLINUX], nil, "recipe:isolinux"},
		{"isolinux/ldlinux.c32", s.debFiles[roleLDLINUX], nil, "recipe:isolinux"},
		{"isolinux/isolinux.cfg", "", bootmenu.ISOLINUX(menu), "generated:boot-menu"},
		{"genai/build.json", "", append(buildJSON, '\n'), "generated:manifest"},
	} {
		if err := add(f.path, f.src, f.data, f.origin); err != nil {
			return err
		}
	}
	mbr, err := os.ReadFile(s.debFiles[roleMBR])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.opts.OutDir, 0o755); err != nil {
		return err
	}
	name := ImageName(s.ed, "iso")
	out := filepath.Join(s.opts.OutDir, name)
	// Two builds of one image into one folder take turns here: the second waits for the first's
	// image, checksum and manifest to be in place, so the four files always belong together, and
	// neither removes the other's temporary files.
	unlock, err := lockFile(filepath.Join(s.opts.OutDir, "."+name+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	tmp := out + ".partial"
	// A build killed outright (SIGKILL, power loss) may have left temporary files; they are never
	// mistaken for an image (only the final rename makes one). Under the lock, no live build has
	// any, so they are cleared here.
	stale, _ := filepath.Glob(out + ".partial*")
	sidecars, _ := filepath.Glob(out + ".*.partial-*") // writeAtomic's
	for _, p := range append(stale, sidecars...) {
		os.RemoveAll(p)
	}
	defer os.Remove(tmp)
	spec := iso.Spec{
		VolumeID:   strings.ToUpper("GENAI_" + s.ed.Name + "_" + strings.NewReplacer(".", "_", "-", "_", "+", "_", "~", "_").Replace(s.ed.Version)),
		SourceDate: s.opts.SourceDate,
		Files:      t,
		BIOS:       &iso.BIOSBoot{Image: "isolinux/isolinux.bin", Catalog: "isolinux/boot.cat"},
		UEFI:       &iso.UEFIBoot{Image: "boot/efi.img"},
		Hybrid:     mbr,
	}
	if len(spec.VolumeID) > 32 {
		spec.VolumeID = spec.VolumeID[:32]
	}
	s.prog.Note("writing " + name)
	if err := iso.Write(ctx, tmp, spec); err != nil {
		return err
	}
	sum, err := fileSHA256(tmp)
	if err != nil {
		return err
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return err
	}
	isoFiles, err := records(t, "iso")
	if err != nil {
		return err
	}
	m := s.manifest(&ImageRecord{Name: name, Format: "iso", Size: fi.Size(), SHA256: sum})
	m.Files = append(isoFiles, m.Files...)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The checksum and manifest go first; the image's rename is the last step, so an image in
	// images/ is always complete and matches its .sha256.
	if err := writeAtomic(out+".sha256", []byte(sum+"  "+name+"\n")); err != nil {
		return err
	}
	if err := writeAtomic(out+".manifest.json", append(mj, '\n')); err != nil {
		return err
	}
	sbom, err := SBOM(m)
	if err != nil {
		return err
	}
	if err := writeAtomic(out+".spdx.json", sbom); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	if err := syncDir(s.opts.OutDir); err != nil {
		return err
	}
	ks, err := os.Stat(s.kernel.vmlinuz())
	if err != nil {
		return err
	}
	*s.res = Result{Image: out, Checksum: out + ".sha256", Manifest: out + ".manifest.json", SBOM: out + ".spdx.json", SHA256: sum, Size: fi.Size(),
		InitrdSize: s.res.InitrdSize, KernelSize: ks.Size(), KernelVer: s.kernel.Version, Steps: s.res.Steps, ManifestData: m,
		Memory: s.res.Memory, Segments: s.res.Segments}
	return nil
}

func (s *state) manifest(img *ImageRecord) *Manifest {
	menu, _ := s.menu()
	var cmdline []string
	if len(menu.Entries) > 0 {
		cmdline = menu.Entries[0].Cmdline
	}
	return &Manifest{Edition: s.ed.Name, Version: s.ed.Version, Arch: s.ed.Arch, SourceDateEpoch: s.opts.SourceDate.Unix(),
		Kernel: s.kernel.Version, Cmdline: cmdline, Image: img, Inputs: s.inputs, Packages: s.packages, Memory: s.res.Memory, Files: s.initrdFiles}
}

// writeAtomic writes a file under a temporary name of its own, syncs it to disk and renames it, so
// that a reader (or a power cut) sees the old file or the whole new one.
func writeAtomic(p string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".partial-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// syncDir makes the renames into dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lockFile takes an exclusive flock(2) on p (creating it), waiting for another holder; the lock
// goes with the process, so a killed build never leaves it held. The file itself stays: removing
// a lock file lets a third process lock a new inode while the second holds the old one.
func lockFile(p string) (unlock func(), err error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
