package debconfigure

import (
	"fmt"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/internal/fstree"
)

// shells writes etc/shells as debianutils' add-shell and update-shells would: the shells named
// by reachable `add-shell` calls in postinst scripts and by usr/share/debianutils/shells.d files,
// after the header debianutils writes. Nothing is written when the set has no shell.
func shells(tree *fstree.Tree, pkgs []Package) ([]string, error) {
	var list []string
	err := eachPostinstCall(pkgs, "add-shell", func(p Package, c Command) error {
		for _, w := range c.Words[1:] {
			if !w.Literal || !strings.HasPrefix(w.Text, "/") {
				return fmt.Errorf("add-shell %q: not a literal absolute path", w.Text)
			}
			list = append(list, w.Text)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range tree.Entries() {
		if strings.HasPrefix(e.Path, "usr/share/debianutils/shells.d/") && e.Kind == fstree.File {
			b, err := e.ReadAll()
			if err != nil {
				return nil, err
			}
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					list = append(list, l)
				}
			}
		}
	}
	if len(list) == 0 {
		return nil, nil
	}
	sort.Strings(list)
	var out []string
	for i, l := range list {
		if i == 0 || l != list[i-1] {
			out = append(out, l)
		}
	}
	data := "# /etc/shells: valid login shells\n" + strings.Join(out, "\n") + "\n"
	return out, tree.Replace(fstree.Entry{Path: "etc/shells", Kind: fstree.File, Mode: 0o644, Data: []byte(data), Origin: "debianutils"})
}
