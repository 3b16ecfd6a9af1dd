// Package iso writes the bootable hybrid ISO: an ISO 9660 file system with Rock Ridge (go-diskfs),
// El Torito entries for BIOS (ISOLINUX) and UEFI (a FAT ESP image stored as a file), and, when
// asked, the isohybrid MBR that lets the same bytes boot from a USB stick. Output is byte-identical
// for an identical Spec, whatever the clock or environment says.
package iso

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/isohybrid"
)

// BlockSize is the ISO 9660 logical block size (ECMA-119 6.1.2).
const BlockSize = 2048

// Spec is everything that goes into an image.
type Spec struct {
	VolumeID   string       // at most 32 d-characters: A-Z, 0-9, _ (ECMA-119 7.4.1)
	SourceDate time.Time    // every timestamp in the image
	Files      *fstree.Tree // the whole ISO 9660 side, including the ESP image and the ISOLINUX files
	BIOS       *BIOSBoot    // nil: no BIOS El Torito entry
	UEFI       *UEFIBoot    // nil: no UEFI El Torito entry
	Hybrid     []byte       // isohdpfx.bin; nil: no isohybrid MBR (needs BIOS)
	// HybridUEFI writes an MBR whose only partition is the ESP (no boot code), so that a
	// UEFI-only image (no BIOS entry) also boots from a USB stick. Needs UEFI, excludes Hybrid.
	HybridUEFI bool
}

// BIOSBoot is the El Torito entry for PC BIOS: no emulation, 4 sectors loaded, boot-info-table.
type BIOSBoot struct {
	Image   string // path in Files, e.g. "isolinux/isolinux.bin"
	Catalog string // where the boot catalog appears, e.g. "isolinux/boot.cat"; must not be in Files
}

// UEFIBoot is the El Torito entry for platform EFI (0xEF): no emulation, pointing at a FAT image.
type UEFIBoot struct {
	Image string // path in Files of the FAT ESP image, e.g. "boot/efi.img"
}

// defaultCatalog is used when there is no BIOS entry to name the catalog.
const defaultCatalog = "boot.catalog"

func (s *Spec) catalog() string {
	if s.BIOS != nil && s.BIOS.Catalog != "" {
		return s.BIOS.Catalog
	}
	return defaultCatalog
}

// validate reports every problem with the Spec at once.
func (s *Spec) validate() error {
	var errs []error
	if s.VolumeID == "" || len(s.VolumeID) > 32 || strings.Trim(s.VolumeID, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
		errs = append(errs, fmt.Errorf("volume ID %q: want 1-32 characters of A-Z, 0-9 and _", s.VolumeID))
	}
	if s.SourceDate.IsZero() {
		errs = append(errs, errors.New("no SourceDate"))
	}
	if s.Files == nil {
		return errors.Join(append(errs, errors.New("no Files"))...)
	}
	image := func(what, p string, min int64) *fstree.Entry {
		e, ok := s.Files.Get(p)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s image %q is not in Files", what, p))
		case e.Kind != fstree.File:
			errs = append(errs, fmt.Errorf("%s image %q is a %s, not a file", what, p, e.Kind))
		case e.Size < min:
			errs = append(errs, fmt.Errorf("%s image %q has %d bytes, want at least %d", what, p, e.Size, min))
		default:
			return e
		}
		return nil
	}
	if s.BIOS != nil {
		// The boot-info-table fills bytes 8-63 (El Torito as extended by mkisofs -boot-info-table).
		if e := image("BIOS", s.BIOS.Image, 64); e != nil && s.Hybrid != nil {
			head, err := readHead(e, 0x44)
			if err == nil {
				err = isohybrid.CheckLoader(head)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("BIOS image %q: %w", s.BIOS.Image, err))
			}
		}
	}
	if s.UEFI != nil {
		image("UEFI", s.UEFI.Image, 1)
	}
	cat, err := fstree.Clean(s.catalog())
	if err != nil {
		errs = append(errs, fmt.Errorf("boot catalog: %w", err))
	} else if _, ok := s.Files.Get(cat); ok {
		errs = append(errs, fmt.Errorf("boot catalog %q would replace a file of Files", cat))
	} else if d := path.Dir(cat); d != "." {
		if e, ok := s.Files.Get(d); ok && e.Kind != fstree.Dir {
			errs = append(errs, fmt.Errorf("boot catalog %q: %s is not a directory", cat, d))
		}
	}
	if s.Hybrid != nil && s.BIOS == nil {
		errs = append(errs, errors.New("an isohybrid MBR needs a BIOS entry (it starts isolinux.bin)"))
	}
	if s.HybridUEFI && (s.UEFI == nil || s.Hybrid != nil) {
		errs = append(errs, errors.New("a UEFI-only hybrid MBR needs a UEFI entry and no isohybrid MBR"))
	}
	for _, e := range s.Files.Entries() {
		if e.Kind == fstree.File && e.Size > 0xFFFFFFFF {
			errs = append(errs, fmt.Errorf("%s: %d bytes is beyond ISO 9660's single-extent limit", e.Path, e.Size))
		}
	}
	return errors.Join(errs...)
}

func readHead(e *fstree.Entry, n int) ([]byte, error) {
	r, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Write builds the image described by spec at outPath. It writes to a temporary file beside
// outPath and renames it into place only when complete; on error nothing is left behind.
func Write(ctx context.Context, outPath string, spec Spec) (err error) {
	if err := spec.validate(); err != nil {
		return fmt.Errorf("iso %s: %w", outPath, err)
	}
	dir, base := filepath.Split(outPath)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("iso: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// go-diskfs' Finalize removes the work directory itself (finalize.go:1056, os.RemoveAll), but
	// not when it fails half-way.
	work, err := os.MkdirTemp(dir, base+".work-*")
	if err != nil {
		return fmt.Errorf("iso: %w", err)
	}
	defer os.RemoveAll(work)

	if err := stage(ctx, work, spec.Files); err != nil {
		return fmt.Errorf("iso %s: staging files: %w", outPath, err)
	}
	if err := finalize(tmp, work, &spec); err != nil {
		return fmt.Errorf("iso %s: %w", outPath, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	nodes, err := fixup(tmp, &spec)
	if err != nil {
		return fmt.Errorf("iso %s: %w", outPath, err)
	}
	if err := trim(tmp); err != nil {
		return fmt.Errorf("iso %s: %w", outPath, err)
	}
	if spec.Hybrid != nil || spec.HybridUEFI {
		if err := hybrid(tmp, &spec, nodes); err != nil {
			return fmt.Errorf("iso %s: %w", outPath, err)
		}
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("iso: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("iso: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("iso: %w", err)
	}
	if err := os.Rename(tmp.Name(), outPath); err != nil {
		return fmt.Errorf("iso: %w", err)
	}
	return nil
}

// stage lays the tree out in go-diskfs' work directory, which is what its ISO writer reads.
// Owners, modes and times are set later from the tree (see fixup), not from the host.
func stage(ctx context.Context, work string, files *fstree.Tree) error {
	for _, e := range files.Entries() {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(work, filepath.FromSlash(e.Path))
		switch e.Kind {
		case fstree.Dir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case fstree.Symlink:
			// go-diskfs' Symlink is not implemented, but Finalize turns a symlink in the work
			// directory into a Rock Ridge SL entry (finalize.go:114, rockridge.go:127).
			if err := os.Symlink(e.Target, p); err != nil {
				return err
			}
		case fstree.File:
			if err := copyEntry(p, e); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
		default:
			return fmt.Errorf("%s: unsupported kind %s", e.Path, e.Kind)
		}
	}
	return nil
}

func copyEntry(dst string, e *fstree.Entry) error {
	r, err := e.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, r)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != e.Size {
		err = fmt.Errorf("read %d bytes, the tree says %d", n, e.Size)
	}
	return err
}

func finalize(out *os.File, work string, spec *Spec) error {
	fsys, err := iso9660.Create(file.New(out, false), 0, 0, BlockSize, work)
	if err != nil {
		return fmt.Errorf("creating ISO 9660: %w", err)
	}
	opts := iso9660.FinalizeOptions{
		RockRidge: true,
		// ECMA-119 8.4.5: a-characters padded with spaces.
		VolumeIdentifier: fmt.Sprintf("%-32s", spec.VolumeID),
	}
	if spec.BIOS != nil || spec.UEFI != nil {
		et := &iso9660.ElTorito{BootCatalog: spec.catalog()}
		if spec.BIOS != nil {
			e := &iso9660.ElToritoEntry{
				Platform:  iso9660.BIOS,
				Emulation: iso9660.NoEmulation,
				BootFile:  spec.BIOS.Image,
				BootTable: true,
			}
			// ISOLINUX wants 4 512-byte sectors loaded (isolinux docs: -boot-load-size 4).
			e.SetLoadSize(4)
			et.Entries = append(et.Entries, e)
		}
		if spec.UEFI != nil {
			// Load size is left to go-diskfs: the image's size in 512-byte sectors, or 0 when it
			// exceeds 0xFFFF (eltorito.go:147), which firmware reads as "the whole file".
			et.Entries = append(et.Entries, &iso9660.ElToritoEntry{
				Platform:  iso9660.EFI,
				Emulation: iso9660.NoEmulation,
				BootFile:  spec.UEFI.Image,
			})
		}
		opts.ElTorito = et
	}
	if err := fsys.Finalize(opts); err != nil {
		return fmt.Errorf("writing ISO 9660: %w", err)
	}
	return nil
}

// trim cuts the file to the volume size the PVD records (ECMA-119 8.4.8, byte 80 of sector 16):
// go-diskfs may leave it longer (the size given to diskfs.Create is kept).
func trim(f *os.File) error {
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, 16*BlockSize+80); err != nil {
		return fmt.Errorf("reading the volume size: %w", err)
	}
	return f.Truncate(int64(binary.LittleEndian.Uint32(b)) * BlockSize)
}

// hybrid writes the isohybrid MBR and pads the image. The disk signature is taken from the
// SHA-256 of the image, so it differs between images but not between builds.
func hybrid(f *os.File, spec *Spec, nodes map[string]node) error {
	var loader node
	if spec.BIOS != nil {
		var ok bool
		if loader, ok = nodes[mustClean(spec.BIOS.Image)]; !ok {
			return fmt.Errorf("BIOS image %s not found in the written image", spec.BIOS.Image)
		}
	}
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hashing the image: %w", err)
	}
	sig := binary.LittleEndian.Uint32(h.Sum(nil))
	if sig == 0 {
		sig = 1 // isohybrid.c treats 0 as "none" and picks one at random
	}
	opts := isohybrid.Options{MBR: spec.Hybrid, BootLoaderLBA: loader.LBA, DiskSignature: sig, UEFIOnly: spec.HybridUEFI}
	if spec.UEFI != nil {
		esp, ok := nodes[mustClean(spec.UEFI.Image)]
		if !ok {
			return fmt.Errorf("UEFI image %s not found in the written image", spec.UEFI.Image)
		}
		opts.ESPStart = esp.LBA * (BlockSize / isohybrid.SectorSize)
		opts.ESPSize = uint32((int64(esp.Size) + isohybrid.SectorSize - 1) / isohybrid.SectorSize)
	}
	if err := isohybrid.Apply(f, opts); err != nil {
		return err
	}
	_, err := isohybrid.Pad(f)
	return err
}

func mustClean(p string) string {
	c, err := fstree.Clean(p)
	if err != nil {
		return p
	}
	return c
}
