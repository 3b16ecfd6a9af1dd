package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/internal/bootmenu"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/memreq"
	"github.com/genai-os/genai-build/internal/output"
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

// Manifest is the build record written next to the images (and, without the images' own
// digests, into the ISO as /genai/build.json).
type Manifest struct {
	Edition         string   `json:"edition"`
	Version         string   `json:"version"`
	Arch            string   `json:"arch"`
	SourceDateEpoch int64    `json:"source_date_epoch"`
	Kernel          string   `json:"kernel"`
	Cmdline         []string `json:"cmdline"`
	// Image is the primary image (the first output's first file); Images every image written.
	Image  *ImageRecord  `json:"image,omitempty"`
	Images []ImageRecord `json:"images,omitempty"`
	// Placement is where the root lives (initramfs, image); Layers and BuildID describe a root on
	// the medium.
	Placement string        `json:"placement"`
	BuildID   string        `json:"build_id,omitempty"`
	Layers    []LayerRecord `json:"layers,omitempty"`
	Inputs    []Input       `json:"inputs"`
	// Packages are the Debian packages unpacked into the root tree, with their licences.
	Packages []InstalledPackage `json:"packages,omitempty"`
	// Memory is the least memory the image boots with, computed by the build (internal/memreq).
	Memory *memreq.Estimate `json:"memory,omitempty"`
	Files  []FileRecord     `json:"files"`
}

// ImageRecord describes a written image file.
type ImageRecord struct {
	Name   string `json:"name"`
	Output string `json:"output,omitempty"`
	Format string `json:"format"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// LayerRecord describes a layer of a root on the medium.
type LayerRecord struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// imageInputs are the values the image step writes from.
type imageInputs struct {
	inputs   []Input
	kernel   *kernelStage
	packages []InstalledPackage
	placed   *placed
	loaders  map[string]string
}

// image makes the boot chain and has each of the edition's output formats write it, under
// temporary names; then writes each image's checksum, the manifest and the SBOM, and renames the
// images into place last.
func (s *state) image(ctx context.Context, in imageInputs) (*Result, error) {
	pl := in.placed
	menu, err := s.menu(pl.cmdline)
	if err != nil {
		return nil, err
	}
	m := s.manifest(in, menu)
	buildJSON, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}

	chain := &output.Chain{
		Base:          imageBase(s.ed),
		Title:         fmt.Sprintf("GenAI OS %s %s %s (%s)\n", s.ed.Name, s.ed.Version, s.ed.Arch, s.opts.SourceDate.UTC().Format("2006-01-02")),
		VolumeID:      output.VolumeID(s.ed.Name, s.ed.Version),
		Kernel:        in.kernel.vmlinuz(),
		KernelOrigin:  "kernel:" + in.kernel.Package.Name + " " + in.kernel.Package.Version,
		KernelVersion: in.kernel.Version,
		Edition:       s.ed.Name,
		Version:       s.ed.Version,
		Initrd:        pl.initrd.path,
		Menu:          menu,
		Loaders:       in.loaders,
		Medium: append(append([]output.File{}, pl.medium...),
			output.File{Path: output.ManifestPath, Data: append(buildJSON, '\n'), Origin: "generated:manifest"}),
		SourceDate: s.opts.SourceDate,
		Sign:       s.sign,
		SignerID:   s.signerID,
		Bundle:     s.bundleFunc(pl.buildID),
		BundleOnly: s.opts.BundleOnly,
		BuildID:    pl.buildID,
		Disk:       output.DiskParams{SlotSize: s.ed.Disk.SlotSizeBytes(), Tries: s.ed.Disk.TriesOr()},
	}
	var writers []output.Writer
	var names []string
	for _, o := range s.ed.Outputs {
		w, ok := output.Lookup(o)
		if !ok {
			return nil, &output.UnknownError{Name: o}
		}
		writers = append(writers, w)
		names = append(names, w.Names(chain.Base)...)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no output format", s.ed.Source)
	}
	// Every file the writers write; names are those the build keeps.
	all := names
	if s.opts.BundleOnly {
		names = bundleNames(all)
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no output writes an update bundle (outputs %v)", s.ed.Source, s.ed.Outputs)
		}
	}
	// The SBOM goes on the medium too: of the image's content, without the image's own digest
	// (only the copy beside the image has it).
	onMedium := *m
	onMedium.Image = &ImageRecord{Name: all[0]} // the full build's primary: bundle and image write the same bundle
	sbom, err := SBOM(&onMedium)
	if err != nil {
		return nil, err
	}
	chain.Medium = append(chain.Medium, output.File{Path: SBOMPath, Data: sbom, Origin: "generated:sbom"})
	if err := os.MkdirAll(s.opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	primary := filepath.Join(s.opts.OutDir, names[0])
	// Two builds of one edition into one folder take turns here: the second waits for the first's
	// images, checksums and manifest to be in place, so the files always belong together, and
	// neither removes the other's temporary files.
	unlock, err := lockFile(filepath.Join(s.opts.OutDir, "."+names[0]+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A build killed outright (SIGKILL, power loss) may have left temporary files; they are never
	// mistaken for an image (only the final rename makes one). Under the lock, no live build has
	// any, so they are cleared here.
	for _, n := range all {
		out := filepath.Join(s.opts.OutDir, n)
		stale, _ := filepath.Glob(out + ".partial*")
		sidecars, _ := filepath.Glob(out + ".*.partial-*") // writeAtomic's
		for _, p := range append(stale, sidecars...) {
			os.RemoveAll(p)
		}
		defer os.Remove(output.Temp(s.opts.OutDir, n))
	}
	// Nothing changed since the images in the folder were written (their inputs' key, sizes and
	// times match what the last build recorded): they stay, and so do their checksums, manifest
	// and SBOM. A warm rebuild of a large image then writes nothing.
	key, err := s.imageKey(chain)
	if err != nil {
		return nil, err
	}
	inputsFile := filepath.Join(s.opts.OutDir, "."+names[0]+".inputs.json")
	if res, ok := s.unchangedImages(inputsFile, key, primary, in, pl); ok {
		s.prog.Note("images unchanged: " + strings.Join(names, ", "))
		return res, nil
	}
	var written []output.Written
	var owners []string
	for i, w := range writers {
		kept := slices.DeleteFunc(w.Names(chain.Base), func(n string) bool { return !slices.Contains(names, n) })
		s.prog.Note(fmt.Sprintf("writing %s (%s)", strings.Join(kept, ", "), s.ed.Outputs[i]))
		start := time.Now()
		ws, err := w.Write(ctx, chain, s.opts.OutDir)
		s.log.Debug("image written", "output", s.ed.Outputs[i], "took", time.Since(start))
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", s.ed.Outputs[i], err)
		}
		for _, w := range ws {
			if !slices.Contains(names, w.Name) {
				continue // genai-build bundle: only the bundle is kept
			}
			owners = append(owners, s.ed.Outputs[i])
			written = append(written, w)
		}
	}
	res := &Result{Placement: pl.placement, Layers: pl.layers, BuildID: pl.buildID, InitrdSize: pl.initrd.size,
		KernelVer: in.kernel.Version, Memory: &pl.initrd.memory, Segments: pl.initrd.segments}
	var mediumFiles []FileRecord
	start := time.Now()
	defer func() { s.log.Debug("images digested, manifest and SBOM written", "took", time.Since(start)) }()
	for i, w := range written {
		sum, err := fileSHA256(w.Path)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(w.Path)
		if err != nil {
			return nil, err
		}
		m.Images = append(m.Images, ImageRecord{Name: w.Name, Output: owners[i], Format: w.Format, Size: fi.Size(), SHA256: sum})
		out := filepath.Join(s.opts.OutDir, w.Name)
		res.Images = append(res.Images, ImageFile{Output: owners[i], Format: w.Format, Path: out, Checksum: out + ".sha256", Size: fi.Size(), SHA256: sum})
		if w.Files != nil {
			recs, err := mediumRecords(w.Files, w.Format)
			if err != nil {
				return nil, err
			}
			mediumFiles = append(mediumFiles, recs...)
		}
	}
	m.Image = &m.Images[0]
	m.Files = append(mediumFiles, m.Files...)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	// The checksums and the manifest go first; the images' renames are the last step, so an image
	// in images/ is always complete and matches its .sha256.
	for _, im := range res.Images {
		if err := writeAtomic(im.Checksum, []byte(im.SHA256+"  "+filepath.Base(im.Path)+"\n")); err != nil {
			return nil, err
		}
	}
	if err := writeAtomic(primary+".manifest.json", append(mj, '\n')); err != nil {
		return nil, err
	}
	if sbom, err = SBOM(m); err != nil {
		return nil, err
	}
	if err := writeAtomic(primary+".spdx.json", sbom); err != nil {
		return nil, err
	}
	for _, w := range written {
		if err := os.Rename(w.Path, filepath.Join(s.opts.OutDir, w.Name)); err != nil {
			return nil, err
		}
	}
	if err := cache.SyncDir(s.opts.OutDir); err != nil {
		return nil, err
	}
	if err := writeInputs(inputsFile, key, res.Images); err != nil {
		return nil, err
	}
	ks, err := os.Stat(in.kernel.vmlinuz())
	if err != nil {
		return nil, err
	}
	first := res.Images[0]
	res.Image, res.Checksum, res.SHA256, res.Size = first.Path, first.Checksum, first.SHA256, first.Size
	res.Manifest, res.SBOM, res.ManifestData, res.KernelSize = primary+".manifest.json", primary+".spdx.json", m, ks.Size()
	return res, nil
}

// bundleNames are the update bundles among an output's file names.
func bundleNames(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ".bundle") {
			out = append(out, n)
		}
	}
	return out
}

// SBOMPath is where the SBOM sits on the medium.
const SBOMPath = "genai/sbom.spdx.json"

// mediumRecords lists the files an image holds, for the manifest.
func mediumRecords(files []output.File, where string) ([]FileRecord, error) {
	t := fstree.New()
	known := map[string]FileRecord{}
	for _, f := range files {
		if f.SHA256 != "" && f.Source != "" {
			fi, err := os.Stat(f.Source)
			if err != nil {
				return nil, err
			}
			known["/"+f.Path] = FileRecord{Path: "/" + f.Path, Where: where, Kind: fstree.File.String(), Mode: "0444", Size: fi.Size(), SHA256: f.SHA256, Origin: f.Origin}
			f.Source, f.Data = "", nil // its digest is known: not read again
		}
		if err := t.Add(fstree.Entry{Path: f.Path, Kind: fstree.File, Mode: 0o444, Source: f.Source, Data: f.Data, Origin: f.Origin}); err != nil {
			return nil, err
		}
	}
	recs, err := records(t, where)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		if k, ok := known[r.Path]; ok {
			recs[i] = k
		}
	}
	return recs, nil
}

// manifest is the build record without the images (build.json inside the ISO).
func (s *state) manifest(in imageInputs, menu bootmenu.Menu) *Manifest {
	var cmdline []string
	if len(menu.Entries) > 0 {
		cmdline = menu.Entries[0].Cmdline
	}
	pl := in.placed
	m := &Manifest{Edition: s.ed.Name, Version: s.ed.Version, Arch: s.ed.Arch, SourceDateEpoch: s.opts.SourceDate.Unix(),
		Kernel: in.kernel.Version, Cmdline: cmdline, Placement: pl.placement, BuildID: pl.buildID, Inputs: in.inputs,
		Packages: in.packages, Memory: &pl.initrd.memory, Files: pl.files}
	for _, l := range pl.layers {
		m.Layers = append(m.Layers, LayerRecord{Name: l.Name, Size: l.Size, SHA256: l.SHA256})
	}
	return m
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

// imagesRecipe names how the images are written from their chain; change it when that changes.
const imagesRecipe = "images/2"

// imageKey identifies everything the output writers read: the chain's fields, and each file by
// its place in the cache (stage folders are named by their inputs' hashes) or its bytes.
func (s *state) imageKey(c *output.Chain) (string, error) {
	menu, err := json.Marshal(c.Menu)
	if err != nil {
		return "", err
	}
	parts := []string{imagesRecipe, strings.Join(s.ed.Outputs, ","), c.Base, c.Title, c.VolumeID, fmt.Sprint(c.SourceDate.Unix()),
		s.inCache(c.Kernel), c.KernelOrigin, c.KernelVersion, c.Edition, c.Version, s.inCache(c.Initrd), string(menu), "signer=" + c.SignerID,
		fmt.Sprintf("disk=%d,%d,%s", c.Disk.SlotSize, c.Disk.Tries, c.BuildID)}
	if id := s.updateKeyID(); id != "" { // only then, so that the images of other editions keep their keys
		parts = append(parts, "update-key="+id)
	}
	var roles []string
	for r := range c.Loaders {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		parts = append(parts, r+"="+s.inCache(c.Loaders[r]))
	}
	for _, f := range c.Medium {
		id := "data:" + cache.Key(string(f.Data))
		if f.Source != "" {
			id = "file:" + s.inCache(f.Source)
		}
		parts = append(parts, f.Path, f.Origin, id)
	}
	return cache.Key(parts...), nil
}

// inputsRecord is what a build leaves beside its images (.<image>.inputs.json): the key of their
// inputs and each image's size, time and digest as written.
type inputsRecord struct {
	Key    string        `json:"key"`
	Images []inputsImage `json:"images"`
}

type inputsImage struct {
	ImageFile
	MTimeNs int64 `json:"mtime_ns"`
}

func writeInputs(p, key string, images []ImageFile) error {
	rec := inputsRecord{Key: key}
	for _, im := range images {
		fi, err := os.Stat(im.Path)
		if err != nil {
			return err
		}
		rec.Images = append(rec.Images, inputsImage{ImageFile: im, MTimeNs: fi.ModTime().UnixNano()})
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeAtomic(p, b)
}

// unchangedImages returns the last build's result when its images were made from the same inputs
// and are still as it left them (size and modification time; a changed or replaced file is
// written again), with their checksum files, manifest and SBOM present.
func (s *state) unchangedImages(p, key, primary string, in imageInputs, pl *placed) (*Result, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	var rec inputsRecord
	if json.Unmarshal(b, &rec) != nil || rec.Key != key || len(rec.Images) == 0 {
		return nil, false
	}
	res := &Result{Placement: pl.placement, Layers: pl.layers, BuildID: pl.buildID, InitrdSize: pl.initrd.size,
		KernelVer: in.kernel.Version, Memory: &pl.initrd.memory, Segments: pl.initrd.segments}
	for _, im := range rec.Images {
		fi, err := os.Stat(im.Path)
		if err != nil || fi.Size() != im.Size || fi.ModTime().UnixNano() != im.MTimeNs {
			return nil, false
		}
		if sum, err := os.ReadFile(im.Checksum); err != nil || !strings.HasPrefix(string(sum), im.SHA256+"  ") {
			return nil, false
		}
		res.Images = append(res.Images, im.ImageFile)
	}
	var m Manifest
	mb, err := os.ReadFile(primary + ".manifest.json")
	if err != nil || json.Unmarshal(mb, &m) != nil {
		return nil, false
	}
	if _, err := os.Stat(primary + ".spdx.json"); err != nil {
		return nil, false
	}
	ks, err := os.Stat(in.kernel.vmlinuz())
	if err != nil {
		return nil, false
	}
	first := res.Images[0]
	res.Image, res.Checksum, res.SHA256, res.Size = first.Path, first.Checksum, first.SHA256, first.Size
	res.Manifest, res.SBOM, res.ManifestData, res.KernelSize = primary+".manifest.json", primary+".spdx.json", &m, ks.Size()
	return res, true
}
