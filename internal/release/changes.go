package release

import (
	"sort"

	"github.com/genai-os/genai-build/internal/build"
)

// kernelRecipe is the recipe of the kernel input in a build manifest.
const kernelRecipe = "kernel"

// Change is one package that differs between two releases of an edition: added (Old empty),
// removed (New empty) or at another version.
type Change struct {
	Name     string
	Old, New string
}

// Kind is "added", "removed" or "changed".
func (c Change) Kind() string {
	switch {
	case c.Old == "":
		return "added"
	case c.New == "":
		return "removed"
	}
	return "changed"
}

// Packages are what a build manifest says went into the image, by name: its inputs (the boot
// loaders, the Go programs and u-root) and the Debian packages unpacked into the root. The kernel
// is left out: its package's name changes with its ABI, and the notes give its change apart.
func Packages(m *build.Manifest) map[string]string {
	p := map[string]string{}
	for _, in := range m.Inputs {
		if in.Recipe != kernelRecipe {
			p[in.Name] = in.Version
		}
	}
	for _, pkg := range m.Packages {
		p[pkg.Name] = pkg.Version
	}
	return p
}

// Diff lists what changed from old to new, sorted by name.
func Diff(old, new map[string]string) []Change {
	var cs []Change
	for n, v := range new {
		if ov, ok := old[n]; !ok {
			cs = append(cs, Change{Name: n, New: v})
		} else if ov != v {
			cs = append(cs, Change{Name: n, Old: ov, New: v})
		}
	}
	for n, v := range old {
		if _, ok := new[n]; !ok {
			cs = append(cs, Change{Name: n, Old: v})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}
