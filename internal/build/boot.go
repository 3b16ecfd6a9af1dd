package build

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/genai-os/genai-build/internal/bootmenu"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/esp"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/recipe"
)

// Roles of boot-loader files that the image layout needs, and the recipe kind that provides them.
const (
	roleISOLINUX = "isolinux.bin"
	roleLDLINUX  = "ldlinux.c32"
	roleMBR      = "isohdpfx.bin"
	roleShim     = "shimx64.efi"
	roleGRUB     = "grubx64.efi"
)

// debFiles extracts the named files of a debian-files recipe into a stage keyed by the packages'
// digests and the file list.
func (s *state) debFilesStage(ctx context.Context, r *recipe.Recipe) (map[string]string, error) {
	parts := []string{"debian-files/1"}
	var pkgs []debian.LockedPackage
	for _, name := range r.Packages {
		lp, err := s.locked(r, name)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, lp)
		parts = append(parts, lp.SHA256)
	}
	roles := make([]string, 0, len(r.Files))
	for role := range r.Files {
		roles = append(roles, role)
	}
	sort.Strings(roles)
	for _, role := range roles {
		parts = append(parts, role+"="+r.Files[role])
	}
	key := cache.Key(parts...)
	dir, err := s.opts.Cache.Stage("debian-files", key)
	s.stageHit("files:"+r.Name, err == nil)
	if err != nil {
		dir, err = s.opts.Cache.CommitStage("debian-files", key, func(dir string) error {
			want := map[string]string{} // path in package -> role
			for role, p := range r.Files {
				want[p] = role
			}
			for _, lp := range pkgs {
				blob, err := s.fetcher.FetchLockedVerified(ctx, lp)
				if err != nil {
					return err
				}
				deb, err := debian.OpenDeb(blob)
				if err != nil {
					return fmt.Errorf("%s: %w", lp.Name, err)
				}
				err = deb.WalkData(func(hdr *tar.Header, rd io.Reader) error {
					role, ok := want[hdr.Name]
					if !ok || hdr.Typeflag != tar.TypeReg {
						return nil
					}
					delete(want, hdr.Name)
					return writeFile(filepath.Join(dir, role), rd, 0o644)
				})
				deb.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", lp.Name, err)
				}
			}
			if len(want) > 0 {
				var miss []string
				for p, role := range want {
					miss = append(miss, fmt.Sprintf("%s (%s)", p, role))
				}
				sort.Strings(miss)
				return fmt.Errorf("not found in packages %v: %v; fix files: in %s", r.Packages, miss, r.File)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("recipe %s: %w", r.Name, err)
		}
	}
	out := map[string]string{}
	for _, role := range roles {
		out[role] = filepath.Join(dir, role)
	}
	return out, nil
}

// bootStep extracts the boot loaders and writes the UEFI system partition image.
func (s *state) bootStep(ctx context.Context) error {
	s.debFiles = map[string]string{}
	for _, r := range s.recipes {
		if r.Kind != recipe.KindDebianFiles {
			continue
		}
		files, err := s.debFilesStage(ctx, r)
		if err != nil {
			return err
		}
		for role, p := range files {
			if prev, ok := s.debFiles[role]; ok {
				return fmt.Errorf("two recipes provide %s (%s and %s)", role, prev, p)
			}
			s.debFiles[role] = p
		}
	}
	var missing []string
	for _, role := range []string{roleISOLINUX, roleLDLINUX, roleMBR, roleShim, roleGRUB} {
		if _, ok := s.debFiles[role]; !ok {
			missing = append(missing, role)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the edition's recipes provide no %v: a hybrid ISO needs ISOLINUX (recipe isolinux) and shim+GRUB (recipe uefi-loaders)", missing)
	}
	// The ESP holds only the two loaders: shim as the removable-media default loader, and GRUB
	// beside it, where shim looks for it. GRUB reads its menu, the kernel and the initramfs from the
	// ISO 9660 side (it searches for /.disk/info), so nothing is stored twice.
	key := cache.Key("esp/1", s.inCache(s.debFiles[roleShim]), s.inCache(s.debFiles[roleGRUB]), fmt.Sprint(s.opts.SourceDate.Unix()))
	dir, err := s.opts.Cache.Stage("esp", key)
	s.stageHit("esp", err == nil)
	if err != nil {
		dir, err = s.opts.Cache.CommitStage("esp", key, func(dir string) error {
			t := fstree.New()
			for p, src := range map[string]string{"EFI/BOOT/BOOTX64.EFI": s.debFiles[roleShim], "EFI/BOOT/grubx64.efi": s.debFiles[roleGRUB]} {
				fi, err := os.Stat(src)
				if err != nil {
					return err
				}
				if err := t.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Source: src, Size: fi.Size()}); err != nil {
					return err
				}
			}
			img, err := esp.Build(t, s.opts.SourceDate)
			if err != nil {
				return fmt.Errorf("UEFI system partition: %w", err)
			}
			return os.WriteFile(filepath.Join(dir, "efi.img"), img, 0o644)
		})
		if err != nil {
			return err
		}
	}
	s.debFiles["efi.img"] = filepath.Join(dir, "efi.img")
	return nil
}

// menu is the edition's boot menu.
func (s *state) menu() (bootmenu.Menu, error) {
	e := s.ed
	return bootmenu.Standard(bootmenu.Params{
		Name:    fmt.Sprintf("GenAI OS %s %s", e.Name, e.Version),
		Level:   e.Boot.LevelOr(0.5),
		Serial:  orDefault(e.Boot.Serial, "ttyS0,115200"),
		Cmdline: e.Boot.Cmdline,
		Timeout: e.Boot.TimeoutOr(3),
		Kernel:  "/boot/vmlinuz",
		Initrd:  "/boot/initrd.img",
	})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
