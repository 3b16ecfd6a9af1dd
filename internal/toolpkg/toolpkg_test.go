package toolpkg

import (
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/recipe"
)

// TestEveryGoRecipeIsPackaged: a new Go tool recipe needs its entry in Tools (and every entry a
// Go recipe), so `genai-build repo` cannot silently leave a tool out.
func TestEveryGoRecipeIsPackaged(t *testing.T) {
	names, err := recipe.Names("../../recipes")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := recipe.LoadAll("../../recipes", names)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tool := range Tools {
		have[tool.Recipe] = true
	}
	// A recipe that builds the same program to the same place as a packaged one (another set of
	// links for an edition: genai-tutor beside genai-tools) is packaged with it.
	// A recipe that builds one of the suite's tools alone (genai-update for the embedded edition)
	// installs a path a packaged recipe already provides as a link: the package has that tool.
	binaries := map[string]bool{}
	provided := map[string]bool{}
	for _, r := range rs {
		if have[r.Name] {
			binaries[r.Package+" "+r.Install] = true
			for _, l := range r.Links {
				provided[l] = true
			}
		}
	}
	for _, r := range rs {
		if r.Kind == recipe.KindGo && !have[r.Name] && !binaries[r.Package+" "+r.Install] && !provided[r.Install] {
			t.Errorf("recipe %s (kind go) has no entry in toolpkg.Tools", r.Name)
		}
		delete(have, r.Name)
	}
	for n := range have {
		t.Errorf("toolpkg.Tools names %s, which has no recipe", n)
	}
}

func TestEntries(t *testing.T) {
	r, err := recipe.Load("../../recipes", "consciousness-init")
	if err != nil {
		t.Fatal(err)
	}
	es, err := Entries(Tools[0], r, []byte("ELF"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		s := e.Path
		if e.Link != "" {
			s += " -> " + e.Link
		}
		got = append(got, s)
	}
	// The recipe's "init" link is the initramfs's entry point, not part of the package.
	want := "usr/sbin/consciousness-init|usr/share/doc/consciousness-init/copyright|usr/bin/consciousness-manager -> ../sbin/consciousness-init|usr/sbin/ssh-hostkey -> consciousness-init"
	if strings.Join(got, "|") != want {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "|"), want)
	}
	c := Copyright("consciousness-init")
	for _, want := range []string{"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n", "\nFiles: *\n", "\nLicense: "} {
		if !strings.Contains(c, want) {
			t.Errorf("copyright lacks %q", want)
		}
	}
	for _, c := range []struct{ link, target, want string }{
		{"usr/bin/a", "usr/sbin/b", "../sbin/b"},
		{"usr/sbin/a", "usr/sbin/b", "b"},
		{"usr/lib/x/y/a", "usr/bin/b", "../../../bin/b"},
	} {
		if got, _ := relLink(c.link, c.target); got != c.want {
			t.Errorf("relLink(%s, %s) = %s, want %s", c.link, c.target, got, c.want)
		}
	}
}
