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
	"github.com/genai-os/genai-build/internal/output"
	"github.com/genai-os/genai-build/internal/recipe"
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
	dir, _, err := s.stage("debian-files", key, "files:"+r.Name, "", func(dir string) error {
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
	out := map[string]string{}
	for _, role := range roles {
		out[role] = filepath.Join(dir, role)
	}
	return out, nil
}

// bootStep extracts the boot loaders the edition's output formats need (by role, see
// internal/output) and, when one needs it, writes the UEFI system partition image.
func (s *state) bootStep(ctx context.Context) (map[string]string, error) {
	need := map[string][]string{} // role -> the outputs that need it
	for _, o := range s.ed.Outputs {
		w, ok := output.Lookup(o)
		if !ok {
			return nil, &output.UnknownError{Name: o}
		}
		for _, role := range w.Loaders() {
			need[role] = append(need[role], o)
		}
	}
	if len(need) == 0 {
		return map[string]string{}, nil
	}
	loaders := map[string]string{}
	for _, r := range s.recipes {
		if r.Kind != recipe.KindDebianFiles {
			continue
		}
		files, err := s.debFilesStage(ctx, r)
		if err != nil {
			return nil, err
		}
		for role, p := range files {
			if prev, ok := loaders[role]; ok {
				return nil, fmt.Errorf("two recipes provide %s (%s and %s)", role, prev, p)
			}
			loaders[role] = p
		}
	}
	wanted := []string{}
	for role := range need {
		if role == output.RoleESP {
			wanted = append(wanted, output.RoleShim, output.RoleGRUB) // what the ESP is made of
			continue
		}
		wanted = append(wanted, role)
	}
	sort.Strings(wanted)
	var missing []string
	for _, role := range wanted {
		if _, ok := loaders[role]; !ok {
			missing = append(missing, role)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the edition's recipes provide no %v, which its outputs %v need: a hybrid ISO needs ISOLINUX (recipe isolinux) and shim+GRUB (recipe uefi-loaders), a uefi-iso the UKI stub (recipe systemd-stub)", missing, s.ed.Outputs)
	}
	if _, ok := need[output.RoleESP]; !ok {
		return loaders, nil
	}
	// The ESP holds only the two loaders: shim as the removable-media default loader, and GRUB
	// beside it, where shim looks for it. GRUB reads its menu, the kernel and the initramfs from the
	// ISO 9660 side (it searches for /.disk/info), so nothing is stored twice.
	shim, grub := loaders[output.RoleShim], loaders[output.RoleGRUB]
	key := cache.Key("esp/1", s.inCache(shim), s.inCache(grub), fmt.Sprint(s.opts.SourceDate.Unix()))
	dir, _, err := s.stage("esp", key, "esp", "", func(dir string) error {
		t := fstree.New()
		for p, src := range map[string]string{"EFI/BOOT/BOOTX64.EFI": shim, "EFI/BOOT/grubx64.efi": grub} {
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
		return nil, err
	}
	loaders[output.RoleESP] = filepath.Join(dir, "efi.img")
	return loaders, nil
}

// menu is the edition's boot menu, with extra on every entry's command line.
func (s *state) menu(extra []string) (bootmenu.Menu, error) {
	e := s.ed
	kernel, initrd := output.ISOMenuPaths()
	return bootmenu.Standard(bootmenu.Params{
		Name:    fmt.Sprintf("GenAI OS %s %s", e.Name, e.Version),
		Level:   e.Boot.LevelOr(0.5),
		Serial:  orDefault(e.Boot.Serial, "ttyS0,115200"),
		Cmdline: append(append([]string{}, e.Boot.Cmdline...), extra...),
		Timeout: e.Boot.TimeoutOr(3),
		Kernel:  kernel,
		Initrd:  initrd,
	})
}
func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
