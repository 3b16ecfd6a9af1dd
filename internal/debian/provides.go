package debian

import (
	"archive/tar"
	"errors"
	"io"
	"sort"
	"strings"
)

// Packages returns every stanza of the index, sorted by name and, within a name, highest version
// first, so that callers building their own maps (Provides, reverse dependencies) iterate in an
// order that does not depend on Go's map order.
func (ix *Index) Packages() []Package {
	names := make([]string, 0, len(ix.byName))
	for n := range ix.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Package, 0, ix.Len())
	for _, n := range names {
		out = append(out, ix.Versions(n)...)
	}
	return out
}

// WalkDebControl calls fn for each entry of the control.tar member of the .deb held in r (control,
// md5sums, conffiles, maintainer scripts), names cleaned as WalkData cleans them. Deb keeps only
// the control paragraph; installers also need to know which maintainer scripts a package has.
func WalkDebControl(r io.ReaderAt, size int64, fn func(hdr *tar.Header, body io.Reader) error) error {
	members, err := readAr(r, size)
	if err != nil {
		return err
	}
	for _, m := range members {
		if strings.HasPrefix(m.Name, "control.tar") {
			return walkTar(r, m, fn)
		}
	}
	return errors.New("deb: missing control.tar member")
}
