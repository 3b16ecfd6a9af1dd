package debconfigure

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/internal/fstree"
)

// Files of debianutils' update-shells.
const (
	shellsTemplate = "usr/share/debianutils/shells"
	shellsDir      = "usr/share/debianutils/shells.d/"
	shellsState    = "var/lib/shells.state"
	shellsHeader   = "# /etc/shells: valid login shells"
)

// shells writes etc/shells as a fresh install does: debianutils' postinst copies its template,
// then update-shells adds every shell of the template and of usr/share/debianutils/shells.d (files
// in C order), each followed by its path through the real folder when that differs (/bin/bash,
// then /usr/bin/bash on merged /usr), and records them in var/lib/shells.state; reachable add-shell
// calls of older packages append theirs. Nothing is written when the set has no shell.
func shells(tree *fstree.Tree, pkgs []Package) ([]string, error) {
	var added []string
	err := eachPostinstCall(pkgs, "add-shell", func(p Package, c Command) error {
		for _, w := range c.Words[1:] {
			if !w.Literal || !strings.HasPrefix(w.Text, "/") {
				return fmt.Errorf("add-shell %q: not a literal absolute path", w.Text)
			}
			added = append(added, w.Text)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var files []*fstree.Entry
	var header []string // the template's comment lines
	if e, ok := tree.Get(shellsTemplate); ok && e.Kind == fstree.File {
		files = append(files, e)
	}
	var dropIns []*fstree.Entry
	for _, e := range tree.Entries() {
		if strings.HasPrefix(e.Path, shellsDir) && e.Kind == fstree.File {
			dropIns = append(dropIns, e)
		}
	}
	sort.Slice(dropIns, func(i, j int) bool { return dropIns[i].Path < dropIns[j].Path })
	files = append(files, dropIns...)
	var pkgShells []string
	for i, f := range files {
		b, err := f.ReadAll()
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if i == 0 && f.Path == shellsTemplate && strings.HasPrefix(l, "#") {
				header = append(header, l)
			}
			sh, _, _ := strings.Cut(l, "#")
			if sh = strings.TrimSpace(sh); sh == "" {
				continue
			}
			pkgShells = append(pkgShells, sh)
			if dir, err := resolve(tree, path.Dir(sh)); err == nil {
				if real := path.Join("/", dir, path.Base(sh)); real != sh {
					pkgShells = append(pkgShells, real)
				}
			}
		}
	}
	if len(pkgShells)+len(added) == 0 {
		return nil, nil
	}
	if len(header) == 0 {
		header = []string{shellsHeader}
	}
	var out []string
	seen := map[string]bool{}
	for _, sh := range append(append([]string{}, pkgShells...), added...) {
		if !seen[sh] {
			seen[sh] = true
			out = append(out, sh)
		}
	}
	data := strings.Join(append(header, out...), "\n") + "\n"
	if err := tree.Replace(fstree.Entry{Path: "etc/shells", Kind: fstree.File, Mode: 0o644, Data: []byte(data), Origin: "deb:debianutils"}); err != nil {
		return nil, err
	}
	if len(files) > 0 && files[0].Path == shellsTemplate {
		state := strings.Join(pkgShells, "\n") + "\n"
		if err := tree.Replace(fstree.Entry{Path: shellsState, Kind: fstree.File, Mode: 0o644, Data: []byte(state), Origin: "deb:debianutils"}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
