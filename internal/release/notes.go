package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/build"
)

// BootCheck says how an edition's images were shown to boot before the release.
type BootCheck struct {
	// Method is BootedHere, Tested or NotBooted.
	Method string
	// Modes are the boots that reached the ready line (row names as in TestBootMatrix:
	// server-iso-bios-cd, ...).
	Modes []string
	// Source is the go test -json file, for Tested.
	Source string
}

// The ways an edition's boots are checked.
const (
	BootedHere = "booted"     // genai-build release booted every mode in QEMU
	Tested     = "tested"     // a go test -json file showed every mode's boot test passing
	NotBooted  = "not-booted" // --no-boot: nothing was booted
)

// EditionNotes is one edition of a release, for the notes.
type EditionNotes struct {
	Manifest *build.Manifest
	Boot     BootCheck
}

// NotesInput is what the release notes are written from.
type NotesInput struct {
	Version    string
	SourceDate time.Time
	// Fingerprint and UserID are the signing key's.
	Fingerprint, UserID string
	Editions            []EditionNotes
	// Previous is the earlier release compared with (nil: the first release).
	Previous *Previous
}

// Previous is an earlier release: its version and its editions' manifests.
type Previous struct {
	Version   string
	Manifests map[string]*build.Manifest // by edition
}

// ReadPrevious reads the build manifests (*.manifest.json) of an earlier release folder. Its
// version is the folder's name (release/<version>).
func ReadPrevious(dir string) (*Previous, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.manifest.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("previous release %s: no *.manifest.json there; give the folder of an earlier release (release/<version>)", dir)
	}
	p := &Previous{Version: filepath.Base(filepath.Clean(dir)), Manifests: map[string]*build.Manifest{}}
	for _, f := range files {
		m, err := ReadManifest(f)
		if err != nil {
			return nil, err
		}
		p.Manifests[m.Edition] = m
	}
	return p, nil
}

// ReadManifest reads a build manifest (<image>.manifest.json).
func ReadManifest(path string) (*build.Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m build.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Edition == "" {
		return nil, fmt.Errorf("%s: no edition: not a genai-build manifest", path)
	}
	return &m, nil
}

// Notes writes NOTES.md: the editions with their images' sizes and digests, the kernel, how the
// images were boot-tested, the signing key, and the package changes since the previous release.
// The same input gives the same bytes (no clock but SourceDate).
func Notes(in NotesInput) []byte {
	var b bytes.Buffer
	eds := append([]EditionNotes(nil), in.Editions...)
	sort.Slice(eds, func(i, j int) bool { return eds[i].Manifest.Edition < eds[j].Manifest.Edition })
	fmt.Fprintf(&b, "# GenAI OS %s\n\n", in.Version)
	fmt.Fprintf(&b, "Built from sources dated %s (SOURCE_DATE_EPOCH=%d). Editions: %s.\n\n",
		in.SourceDate.UTC().Format("2006-01-02 15:04:05 UTC"), in.SourceDate.Unix(), editionNames(eds))
	fmt.Fprintf(&b, "`%s` lists the SHA-256 of every file here; `%s` is its OpenPGP signature by the release key\n", SumsFile, SignatureFile)
	fmt.Fprintf(&b, "%s (%s), whose public part is `%s`.\n", spaced(in.Fingerprint), in.UserID, PublicKeyFile)
	fmt.Fprintf(&b, "Verify a download: `gpg --import %s` (check that its fingerprint is the one above),\n", PublicKeyFile)
	fmt.Fprintf(&b, "`gpg --verify %s %s`, then `sha256sum -c --ignore-missing %s`; or `genai-build verify IMAGE`.\n\n", SignatureFile, SumsFile, SumsFile)

	b.WriteString("## Editions\n\n| edition | image | size | SHA-256 |\n| --- | --- | --- | --- |\n")
	for _, e := range eds {
		for _, im := range images(e.Manifest) {
			fmt.Fprintf(&b, "| %s | `%s` | %s | `%s` |\n", e.Manifest.Edition, im.Name, size(im.Size), im.SHA256)
		}
	}
	b.WriteString("\n| edition | kernel | Debian packages | memory minimum | boot check |\n| --- | --- | --- | --- | --- |\n")
	for _, e := range eds {
		m := e.Manifest
		mem := "-"
		if m.Memory != nil && m.Memory.MinMB > 0 {
			mem = fmt.Sprintf("%d MiB", m.Memory.MinMB)
		}
		fmt.Fprintf(&b, "| %s | Linux %s%s | %d | %s | %s |\n", m.Edition, m.Kernel, kernelPackage(m), len(m.Packages), mem, bootText(e.Boot))
	}

	b.WriteString("\n## Changes\n\n")
	if in.Previous == nil {
		b.WriteString("This is the first release: no earlier release to compare with.\n")
		return b.Bytes()
	}
	fmt.Fprintf(&b, "Since %s (packages by name: the build inputs and the Debian packages in the image).\n", in.Previous.Version)
	for _, e := range eds {
		fmt.Fprintf(&b, "\n### %s\n\n", e.Manifest.Edition)
		old, ok := in.Previous.Manifests[e.Manifest.Edition]
		if !ok {
			fmt.Fprintf(&b, "New in this release.\n")
			continue
		}
		if ok, nk := kernelPackage(old), kernelPackage(e.Manifest); old.Kernel != e.Manifest.Kernel || ok != nk {
			fmt.Fprintf(&b, "Kernel: Linux %s%s -> %s%s.\n\n", old.Kernel, ok, e.Manifest.Kernel, nk)
		}
		cs := Diff(Packages(old), Packages(e.Manifest))
		if len(cs) == 0 {
			b.WriteString("No package changed.\n")
			continue
		}
		for _, c := range cs {
			switch c.Kind() {
			case "added":
				fmt.Fprintf(&b, "- added %s %s\n", c.Name, c.New)
			case "removed":
				fmt.Fprintf(&b, "- removed %s %s\n", c.Name, c.Old)
			default:
				fmt.Fprintf(&b, "- %s %s -> %s\n", c.Name, c.Old, c.New)
			}
		}
	}
	var gone []string
	for name := range in.Previous.Manifests {
		if !hasEdition(eds, name) {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	if len(gone) > 0 {
		fmt.Fprintf(&b, "\nNo longer released: %s.\n", strings.Join(gone, ", "))
	}
	return b.Bytes()
}

func images(m *build.Manifest) []build.ImageRecord {
	if len(m.Images) == 0 && m.Image != nil {
		return []build.ImageRecord{*m.Image}
	}
	return m.Images
}

func editionNames(eds []EditionNotes) string {
	var n []string
	for _, e := range eds {
		n = append(n, e.Manifest.Edition)
	}
	return strings.Join(n, ", ")
}

func hasEdition(eds []EditionNotes, name string) bool {
	for _, e := range eds {
		if e.Manifest.Edition == name {
			return true
		}
	}
	return false
}

// kernelPackage is " (package version)" for the kernel input, or "".
func kernelPackage(m *build.Manifest) string {
	for _, in := range m.Inputs {
		if in.Recipe == kernelRecipe {
			return fmt.Sprintf(" (%s %s)", in.Name, in.Version)
		}
	}
	return ""
}

func bootText(c BootCheck) string {
	switch c.Method {
	case BootedHere:
		return fmt.Sprintf("booted to the ready line in QEMU: %s", strings.Join(c.Modes, ", "))
	case Tested:
		return fmt.Sprintf("boot tests passed (%s): %s", filepath.Base(c.Source), strings.Join(c.Modes, ", "))
	}
	return "**not boot-tested** (released with --no-boot)"
}

// spaced writes a fingerprint in groups of four, as gpg prints it.
func spaced(fp string) string {
	var parts []string
	for i := 0; i < len(fp); i += 4 {
		parts = append(parts, fp[i:min(i+4, len(fp))])
	}
	return strings.Join(parts, " ")
}

func size(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
