package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/initramfs/dm"
	"github.com/genai-os/genai-build/initramfs/live"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/memreq"
	"github.com/genai-os/genai-build/internal/output"
	"github.com/genai-os/genai-build/internal/recipe"
	"github.com/genai-os/genai-build/internal/squashfs"
	"github.com/genai-os/genai-build/internal/verity"
)

// layerRecipe names how a layer image is written; change it when that changes.
const layerRecipe = "squashfs-layer/1"

// layerVerityFile holds a layer's verity parameters in its stage folder (dm.VerityParams.String).
const layerVerityFile = "verity.txt"

// Paths of a root on the medium (placement image), as the init reads them (docs/DESIGN.md, "A root
// on the medium"): the layers and their list on the medium, the build's identity in both places.
const (
	liveDir      = "live"
	liveBuildID  = "live/build-id"
	liveLayers   = "live/layers"
	liveConfPath = "etc/consciousness/live.conf"
)

// mediumModules are what the early initramfs loads to find and mount the medium: the server's
// disk, CD-ROM and USB storage drivers, the file systems of the medium (ISO 9660, FAT on a
// partition, with the code page and character sets Debian's kernel config names as FAT's defaults:
// CONFIG_FAT_DEFAULT_CODEPAGE=437, CONFIG_FAT_DEFAULT_IOCHARSET="ascii", CONFIG_FAT_DEFAULT_UTF8),
// and loop, squashfs and overlay for the layers. Their dependencies come with them.
var mediumModules = []string{
	"ahci", "ata_piix", "sr_mod", "sd_mod", "nvme", "virtio_blk", "virtio_scsi",
	"xhci_pci", "usb_storage", "uas",
	"isofs", "vfat", "nls_cp437", "nls_ascii", "nls_utf8",
	"loop", "squashfs", "overlay",
}

// verityModules join mediumModules when the edition has verity: the init sets up the layers'
// dm-verity devices itself (Debian's kernel has device-mapper as modules, so no dm-mod.create=);
// dm-bufio and reed_solomon come as their dependencies.
var verityModules = []string{"dm-mod", "dm-verity"}

// Layer is one SquashFS layer of a root on the medium.
type Layer struct {
	Name   string
	Path   string // the image, in the cache
	Size   int64  // the whole file: data, and with verity the padding and hash tree
	SHA256 string // the whole file's
	// Verity is the layer's dm-verity parameters (edition root.verity), nil without.
	Verity *dm.VerityParams
}

// placed is the root in its place: the initramfs to boot, and what the medium carries beside it.
type placed struct {
	placement string
	initrd    *initramfs
	layers    []Layer // placement image, lowest first
	buildID   string
	medium    []output.File
	files     []FileRecord // every file of the root, with where it is
	cmdline   []string     // added to every menu entry's command line
}

// place puts the root tree where the edition says: all of it into the initramfs, or into layers
// on the medium with an early initramfs that mounts them.
func (s *state) place(ctx context.Context, k *kernelOut, root *rootTree) (*placed, error) {
	switch p := s.ed.Root.PlacementOr(); p {
	case edition.PlacementInitramfs:
		if s.sign != nil {
			return nil, fmt.Errorf("%s: a signed UKI output needs root.placement: image (a root in the initramfs carries a shell, which an appended rdinit= would start past every check)", s.ed.Source)
		}
		rd, err := s.writeSegments(ctx, k.stage, root.segments(), memreq.RAM)
		if err != nil {
			return nil, err
		}
		return &placed{placement: p, initrd: rd, files: rd.files}, nil
	case edition.PlacementImage:
		return s.placeImage(ctx, k, root)
	default:
		return nil, fmt.Errorf("%s: root.placement %q is not known", s.ed.Source, p)
	}
}

// placeImage writes the root's layers, lowest first (our programs, the Debian packages, the
// kernel's modules, the system: the order of the initramfs placement's segments, so that a Debian
// package's file wins over u-root's of the same name there as here), then the early initramfs: the init, the modules that find and mount
// the medium, and live.conf naming the build and its layers.
func (s *state) placeImage(ctx context.Context, k *kernelOut, root *rootTree) (*placed, error) {
	p := &placed{placement: edition.PlacementImage}
	for _, l := range []struct {
		name string
		segs []*segment
	}{{"programs", root.programs}, {"packages", root.packages}, {"modules", []*segment{root.modules}}, {"system", []*segment{root.system}}} {
		layer, recs, err := s.layer(ctx, l.name, l.segs)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.name, err)
		}
		p.layers = append(p.layers, layer)
		p.files = append(p.files, recs...)
	}
	p.buildID = buildID(p.layers)
	var init *segment
	var rescue []*segment
	for _, seg := range root.programs {
		if _, ok := seg.tree.Get("init"); ok {
			init = seg
		}
		if s.isURoot(seg.name) {
			rescue = append(rescue, seg)
		}
	}
	if init == nil {
		return nil, fmt.Errorf("%s: a root on the medium needs an early init, and no Go recipe links /init (recipe consciousness-init)", s.ed.Source)
	}
	live, err := s.liveTree(p.layers, p.buildID)
	if err != nil {
		return nil, err
	}
	if t := s.ed.Root.Tmpfs; t != "" {
		p.cmdline = append(p.cmdline, "consciousness.live.tmpfs="+t)
	}
	mods := mediumModules
	if s.ed.Root.VerityOn() {
		mods = append(append([]string{}, mediumModules...), verityModules...)
	}
	early := []*segment{s.modulesSegment(ctx, k.stage, "medium-modules", mods), init}
	if s.sign == nil {
		// u-root's busybox comes along whole: init.debug's rescue shell (/bin/gosh) when no medium
		// turns up, with the tools to look at why (ls, dmesg, blkid, mount). It is the layers' own
		// binary, so it costs no build; docs/DESIGN.md weighs a smaller one.
		early = append(early, rescue...)
	} else {
		// A signed UKI: the early initramfs holds the init alone, so that a command line extended
		// past the signature (systemd-stub appends SMBIOS io.systemd.stub.kernel-cmdline-extra even
		// under Secure Boot) finds nothing else to run as rdinit=, and the command line signed
		// into the UKI, which the init compares with the one the kernel got.
		menu, err := s.menu(p.cmdline)
		if err != nil {
			return nil, err
		}
		if err := live.Add(fstree.Entry{Path: signedCmdlinePath, Kind: fstree.File, Mode: 0o444,
			Data: []byte(strings.Join(menu.Entries[0].Cmdline, " ") + "\n"), Origin: "generated:signed-cmdline"}); err != nil {
			return nil, err
		}
	}
	early = append(early, &segment{name: "live", tree: live})
	if p.initrd, err = s.writeSegments(ctx, k.stage, early, memreq.Medium); err != nil {
		return nil, err
	}
	p.files = append(append([]FileRecord{}, p.initrd.files...), p.files...)
	var list []string
	for _, l := range p.layers {
		p.medium = append(p.medium, output.File{Path: liveDir + "/" + l.Name + ".squashfs", Source: l.Path, Origin: "generated:layer " + l.Name, SHA256: l.SHA256})
		list = append(list, fmt.Sprintf("%s %d %s", l.Name, l.Size, l.SHA256))
	}
	p.medium = append(p.medium,
		output.File{Path: liveBuildID, Data: []byte(p.buildID + "\n"), Origin: "generated:build-id"},
		output.File{Path: liveLayers, Data: lines(list), Origin: "generated:layers"})
	return p, nil
}

// signedCmdlinePath is where an early initramfs inside a signed UKI holds the UKI's command line
// (initramfs/cmd/consciousness-init compares /proc/cmdline with it).
const signedCmdlinePath = "etc/consciousness/cmdline.signed"

// buildID is the identity of a root on the medium: the SHA-256 of its layers' digests, each in
// lower-case hex followed by a newline, lowest layer first.
func buildID(layers []Layer) string {
	h := sha256.New()
	for _, l := range layers {
		h.Write([]byte(l.SHA256 + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// isURoot says whether the segment called name is a u-root recipe's busybox.
func (s *state) isURoot(name string) bool {
	for _, r := range s.recipes {
		if r.Name == name {
			return r.Kind == recipe.KindURoot
		}
	}
	return false
}

// liveTree is the early initramfs's own segment: the mount points the init needs, live.conf, and
// the edition's boot.conf and os-release (the init reads them before it looks for the medium).
func (s *state) liveTree(layers []Layer, id string) (*fstree.Tree, error) {
	t := fstree.New()
	gen := "generated:live"
	for _, d := range []struct {
		p    string
		mode os.FileMode
	}{{"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"run", 0o755}, {"tmp", 0o1777}, {"root", 0o700}} {
		if err := t.Add(fstree.Entry{Path: d.p, Kind: fstree.Dir, Mode: d.mode, Origin: gen}); err != nil {
			return nil, err
		}
	}
	// The rescue shell is /bin/gosh, started in /root: the merged-/usr links of the root.
	for _, l := range []string{"bin", "sbin"} {
		if err := t.Add(fstree.Entry{Path: l, Kind: fstree.Symlink, Mode: 0o777, Target: "usr/" + l, Origin: gen}); err != nil {
			return nil, err
		}
	}
	c := live.Conf{BuildID: id}
	for _, l := range layers {
		c.Layers = append(c.Layers, l.Name)
		if l.Verity != nil {
			if c.Verity == nil {
				c.Verity = map[string]dm.VerityParams{}
			}
			c.Verity[l.Name] = *l.Verity
		}
	}
	if c.Verity != nil {
		c.OnCorruption = s.ed.Root.OnCorruption
		if c.OnCorruption == "" {
			c.OnCorruption = dm.CorruptionModes[0]
		}
	}
	if err := t.Add(fstree.Entry{Path: liveConfPath, Kind: fstree.File, Mode: 0o644, Data: c.Format(), Origin: gen}); err != nil {
		return nil, err
	}
	sys := s.systemFiles()
	for _, p := range []string{"etc/consciousness/boot.conf", "etc/os-release"} {
		if err := t.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: []byte(sys[p]), Origin: "generated:edition"}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// layer writes (or reuses) one layer: the segments' trees, later ones over earlier ones, as a
// SquashFS image, cached by the segments' content keys. It returns the layer and its files.
func (s *state) layer(ctx context.Context, name string, segs []*segment) (Layer, []FileRecord, error) {
	verityOn := s.ed.Root.VerityOn()
	parts := []string{layerRecipe, name, strconv.FormatInt(s.opts.SourceDate.Unix(), 10)}
	if verityOn { // only then, so that the layers without verity keep their keys
		parts = append(parts, "verity", dm.VerityTreeFormat)
	}
	for _, seg := range segs {
		key, err := segmentKey(seg)
		if err != nil {
			return Layer{}, nil, err
		}
		parts = append(parts, seg.name, key)
	}
	key := cache.Key(parts...)
	where := "layer:" + name
	what := "writing layer " + name + " (squashfs, zstd)"
	if verityOn {
		what = "writing layer " + name + " (squashfs, zstd, dm-verity tree)"
	}
	dir, _, err := s.stage("squashfs-layer", key, "layer:"+name, what, func(dir string) error {
		t := fstree.New()
		for _, seg := range segs {
			if err := ctx.Err(); err != nil {
				return err
			}
			st, err := seg.content()
			if err != nil {
				return err
			}
			if err := t.Merge(st, true); err != nil {
				return fmt.Errorf("segment %s: %w", seg.name, err)
			}
		}
		f, err := os.Create(filepath.Join(dir, "layer.squashfs"))
		if err != nil {
			return err
		}
		if _, err := squashfs.Write(f, t, squashfs.Options{SourceDate: s.opts.SourceDate}); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if verityOn {
			p, err := verity.Append(f.Name())
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, layerVerityFile), []byte(p.String()+"\n"), 0o644); err != nil {
				return err
			}
		}
		return writeRecords(filepath.Join(dir, "files.json"), t, where)
	})
	if err != nil {
		return Layer{}, nil, err
	}
	l := Layer{Name: name, Path: filepath.Join(dir, "layer.squashfs")}
	fi, err := os.Stat(l.Path)
	if err != nil {
		return Layer{}, nil, err
	}
	l.Size = fi.Size()
	if l.SHA256, err = s.opts.Cache.RecordedSHA256(l.Path); err != nil {
		return Layer{}, nil, err
	}
	if verityOn {
		b, err := os.ReadFile(filepath.Join(dir, layerVerityFile))
		if err != nil {
			return Layer{}, nil, err
		}
		p, err := dm.ParseVerityParams(string(b))
		if err != nil {
			return Layer{}, nil, fmt.Errorf("%s: %w", filepath.Join(dir, layerVerityFile), err)
		}
		l.Verity = &p
	}
	recs, err := readRecords(filepath.Join(dir, "files.json"))
	if err != nil {
		return Layer{}, nil, fmt.Errorf("%s: %w", dir, err)
	}
	return l, recs, nil
}
