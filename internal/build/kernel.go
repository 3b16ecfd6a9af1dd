package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/initramfs/firewall"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/kmod"
)

// kernelUnpackRecipe names the layout of the unpacked-kernel stage; change it when that changes.
const kernelUnpackRecipe = "kernel-unpack/1"

// kernelStage is Debian's kernel package, unpacked: the signed vmlinuz, its config and its modules.
type kernelStage struct {
	Dir     string // stage folder
	Version string // e.g. 6.12.57+deb13-amd64
	Package debian.LockedPackage
	ModDir  string // stage folder of the selected, decompressed modules
	// checked: every file of the stage was checked (or written) by this build, not only
	// kernelWarmFiles.
	checked bool
}

// kernelMeta is written into the unpacked stage.
type kernelMeta struct {
	Version string `json:"version"`
}

func (k *kernelStage) vmlinuz() string { return filepath.Join(k.Dir, "vmlinuz") }
func (k *kernelStage) config() string  { return filepath.Join(k.Dir, "config") }

// kernelWarmFiles are the files of the unpacked kernel that a build reads when the module segment
// is cached; only they are checked by digest then (the modules are about 100 MB).
var kernelWarmFiles = []string{"meta.json", "vmlinuz", "config"}

// unpackKernel unpacks the kernel package into a stage keyed by the package digest. The cached
// stage's files named in use (all when none) are checked before they are used.
func (s *state) unpackKernel(ctx context.Context, lp debian.LockedPackage, use ...string) (*kernelStage, error) {
	key := cache.Key(kernelUnpackRecipe, lp.SHA256)
	dir, built, err := s.stage("kernel", key, "kernel-unpack", "unpacking "+lp.Name+" "+lp.Version, func(dir string) error {
		blob, err := s.fetcher.FetchLockedVerified(ctx, lp)
		if err != nil {
			return err
		}
		return extractKernel(blob, dir)
	}, use...)
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", lp.Name, err)
	}
	checked := built || len(use) == 0
	var meta kernelMeta
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err == nil {
		err = json.Unmarshal(data, &meta)
	}
	if err != nil {
		return nil, fmt.Errorf("unpacked kernel %s: %w", dir, err)
	}
	return &kernelStage{Dir: dir, Version: meta.Version, Package: lp, checked: checked}, nil
}

// extractKernel takes vmlinuz, config, modules.builtin and the module files out of the package.
func extractKernel(debPath, dir string) error {
	deb, err := debian.OpenDeb(debPath)
	if err != nil {
		return err
	}
	defer deb.Close()
	var version string
	err = deb.WalkData(func(hdr *tar.Header, r io.Reader) error {
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		name := hdr.Name
		var dst string
		switch {
		case strings.HasPrefix(name, "boot/vmlinuz-"):
			dst, version = "vmlinuz", strings.TrimPrefix(name, "boot/vmlinuz-")
		case strings.HasPrefix(name, "boot/config-"):
			dst = "config"
		case strings.HasPrefix(name, "usr/lib/modules/") || strings.HasPrefix(name, "lib/modules/"):
			// usr/lib/modules/<kver>/<rest>
			rest := strings.TrimPrefix(strings.TrimPrefix(name, "usr/"), "lib/modules/")
			_, rel, ok := strings.Cut(rest, "/")
			if !ok {
				return nil
			}
			if rel == "modules.builtin" || strings.HasSuffix(rel, ".ko") || strings.HasSuffix(rel, ".ko.xz") || strings.HasSuffix(rel, ".ko.zst") {
				dst = path.Join("modules", rel)
			}
		}
		if dst == "" {
			return nil
		}
		return writeFile(filepath.Join(dir, dst), r, 0o644)
	})
	if err != nil {
		return err
	}
	for _, f := range []string{"vmlinuz", "config", "modules/modules.builtin"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("the package has no %s: is it a Debian linux-image package?", f)
		}
	}
	meta, _ := json.Marshal(kernelMeta{Version: version})
	return os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644)
}

func writeFile(p string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkKconfig checks the kernel's config against the edition's requirement fragments and reports
// every unmet one.
func (s *state) checkKconfig(k *kernelStage) error {
	f, err := os.Open(k.config())
	if err != nil {
		return err
	}
	cfg, err := kmod.ParseConfig(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("kernel config: %w", err)
	}
	var reqs []kmod.Requirement
	for _, name := range s.ed.Kernel.Config {
		rel := path.Join("kconfig", name+".config")
		f, err := os.Open(filepath.Join(s.opts.Root, rel))
		if err != nil {
			return err
		}
		r, err := kmod.ParseRequirements(rel, f)
		f.Close()
		if err != nil {
			return err
		}
		reqs = append(reqs, r...)
	}
	if v := kmod.Check(cfg, reqs); len(v) > 0 {
		var lines []string
		for _, x := range v {
			lines = append(lines, x.Error())
		}
		return fmt.Errorf("kernel %s lacks options the edition needs (choose another kernel or relax kconfig/):\n%s", k.Version, joinLines(lines))
	}
	return nil
}

// moduleFiles maps module names to their file in the unpacked kernel.
func moduleFiles(modDir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(modDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() == "modules.builtin" {
			return nil
		}
		rel, _ := filepath.Rel(modDir, p)
		files[kmod.Canonical(kmod.NameFromPath(rel))] = filepath.ToSlash(rel)
		return nil
	})
	return files, err
}

// resolveModules reads the .modinfo of the named modules and of everything they depend on, and
// returns them in load order. Only the modules reached are read (a few dozen of some four thousand).
func resolveModules(k *kernelStage, names []string) ([]kmod.Module, error) {
	modDir := filepath.Join(k.Dir, "modules")
	files, err := moduleFiles(modDir)
	if err != nil {
		return nil, err
	}
	bf, err := os.Open(filepath.Join(modDir, "modules.builtin"))
	if err != nil {
		return nil, err
	}
	builtin, err := kmod.ParseBuiltin(bf)
	bf.Close()
	if err != nil {
		return nil, err
	}
	isBuiltin := map[string]bool{}
	for _, b := range builtin {
		isBuiltin[kmod.Canonical(b)] = true
	}
	var mods []kmod.Module
	seen := map[string]bool{}
	queue := append([]string{}, names...)
	for len(queue) > 0 {
		n := kmod.Canonical(queue[0])
		queue = queue[1:]
		if seen[n] || isBuiltin[n] {
			continue
		}
		seen[n] = true
		rel, ok := files[n]
		if !ok {
			continue // Resolve reports unknown names, with suggestions
		}
		data, err := os.ReadFile(filepath.Join(modDir, rel))
		if err != nil {
			return nil, err
		}
		info, err := kmod.ReadModInfo(data)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", rel, err)
		}
		mods = append(mods, kmod.Module{Path: rel, Info: info})
		queue = append(queue, info.Depends...)
		queue = append(queue, info.SoftDepsPre...)
	}
	ix := kmod.NewIndex(mods)
	ix.AddBuiltin(builtin...)
	ordered, err := ix.Resolve(names)
	if err != nil {
		var unknown *kmod.UnknownModulesError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("kernel %s: %w (the edition's kernel.modules; names as in modinfo, - and _ alike)", k.Version, err)
		}
		return nil, err
	}
	return ordered, nil
}

// moduleSegment is the initramfs segment with the modules, decompressed (the whole segment is
// compressed once, which packs better than per-file xz and spares the guest an xz decoder run per
// module), plus the load list the init reads.
func (s *state) moduleSegment(ctx context.Context, k *kernelStage, mods []kmod.Module) (*fstree.Tree, error) {
	origin := "kernel:" + k.Package.Name
	t := fstree.New()
	base := path.Join("usr/lib/modules", k.Version)
	var order, deps, aliases []string
	byName := map[string]string{}
	for _, m := range mods {
		dst := path.Join(base, strings.TrimSuffix(strings.TrimSuffix(m.Path, ".xz"), ".zst"))
		byName[kmod.Canonical(m.Info.Name)] = "/" + dst
		byName[kmod.Canonical(kmod.NameFromPath(m.Path))] = "/" + dst
	}
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dst := path.Join(base, strings.TrimSuffix(strings.TrimSuffix(m.Path, ".xz"), ".zst"))
		data, err := os.ReadFile(filepath.Join(k.Dir, "modules", m.Path))
		if err != nil {
			return nil, err
		}
		if data, err = kmod.Decompress(data); err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Path, err)
		}
		if err := t.Add(fstree.Entry{Path: dst, Kind: fstree.File, Mode: 0o644, Data: data, Origin: origin}); err != nil {
			return nil, err
		}
		order = append(order, "/"+dst)
		var ds []string
		for _, d := range m.Info.Depends {
			if p, ok := byName[kmod.Canonical(d)]; ok {
				ds = append(ds, p)
			}
		}
		sort.Strings(ds)
		deps = append(deps, strings.TrimSpace("/"+dst+": "+strings.Join(ds, " ")))
		for _, a := range m.Info.Aliases {
			aliases = append(aliases, "alias "+a+" "+kmod.Canonical(kmod.NameFromPath(m.Path)))
		}
	}
	gen := "generated:kernel.modules"
	if err := t.Add(fstree.Entry{Path: "etc/consciousness/modules", Kind: fstree.File, Mode: 0o644, Data: lines(order), Origin: gen}); err != nil {
		return nil, err
	}
	if err := t.Add(fstree.Entry{Path: "etc/consciousness/modules.dep", Kind: fstree.File, Mode: 0o644, Data: lines(deps), Origin: gen}); err != nil {
		return nil, err
	}
	// modules.alias in depmod's format ("alias <modalias glob> <module>"), for matching devices'
	// /sys/.../modalias against the edition's modules at boot (coldplug).
	sort.Strings(aliases)
	if err := t.Add(fstree.Entry{Path: "etc/consciousness/modules.alias", Kind: fstree.File, Mode: 0o644, Data: lines(aliases), Origin: gen}); err != nil {
		return nil, err
	}
	return t, nil
}

func lines(l []string) []byte {
	if len(l) == 0 {
		return nil
	}
	return []byte(strings.Join(l, "\n") + "\n")
}

// kernelOut is what the kernel step hands on: the unpacked kernel and the segment of the
// edition's modules.
type kernelOut struct {
	stage   *kernelStage
	modules *segment
}

func (s *state) kernelStep(ctx context.Context) (*kernelOut, error) {
	lp, err := s.locked(s.recipes[0], s.recipes[0].Package)
	if err != nil {
		return nil, err
	}
	k, err := s.unpackKernel(ctx, lp, kernelWarmFiles...)
	if err != nil {
		return nil, err
	}
	if err := s.checkKconfig(k); err != nil {
		return nil, err
	}
	return &kernelOut{stage: k, modules: s.modulesSegment(ctx, k, "kernel-modules", s.kernelModules())}, nil
}

// kernelModules are the edition's modules, and those the firewall's ruleset needs when it is on
// (the init loads these before any unit starts; the kernel has no modprobe to ask).
func (s *state) kernelModules() []string {
	mods := slices.Clone(s.ed.Kernel.Modules)
	if s.ed.Firewall.On() {
		for _, m := range firewall.Modules {
			if !slices.Contains(mods, m) {
				mods = append(mods, m)
			}
		}
	}
	return mods
}

// modulesSegment is a segment of the named modules and their dependencies, with the load list the
// init reads. It depends only on the kernel package and the list: when it is cached, neither the
// .modinfo reading nor the decompression runs again.
func (s *state) modulesSegment(ctx context.Context, k *kernelStage, name string, modules []string) *segment {
	key := cache.Key(moduleSegmentRecipe, k.Package.SHA256, strings.Join(modules, ","))
	return &segment{name: name, key: key, build: func() (*fstree.Tree, error) {
		// The modules are read now: check the whole unpacked kernel first, unless this build
		// has just written it.
		if !k.checked {
			var err error
			if k, err = s.unpackKernel(ctx, k.Package); err != nil {
				return nil, err
			}
		}
		mods, err := resolveModules(k, modules)
		if err != nil {
			return nil, err
		}
		s.log.Debug("modules resolved", "segment", name, "count", len(mods))
		return s.moduleSegment(ctx, k, mods)
	}}
}

// moduleSegmentRecipe names the layout of the module segment; change it when that changes.
const moduleSegmentRecipe = "kernel-modules/1"
