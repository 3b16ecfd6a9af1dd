package debconfigure

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/internal/fstree"
)

// Install is one `update-alternatives --install link name path priority [--slave link name path]...`.
type Install struct {
	Link, Name, Path string
	Priority         int
	Slaves           []Slave
}

// Slave is one --slave of an Install.
type Slave struct{ Link, Name, Path string }

// ParseUpdateAlternatives reads the words of one update-alternatives command (its name first). It
// returns the --install it holds, or nil for the actions that do nothing on a fresh install
// (--remove, --remove-all). Every word must be literal: a value the shell would compute is refused.
func ParseUpdateAlternatives(words []Word) (*Install, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("no words")
	}
	var in *Install
	args := words[1:]
	take := func(n int, opt string) ([]string, error) {
		if len(args) < n {
			return nil, fmt.Errorf("%s needs %d arguments", opt, n)
		}
		out := make([]string, n)
		for i := range n {
			if !args[i].Literal {
				return nil, fmt.Errorf("%s: %q is computed by the shell, not literal", opt, args[i].Text)
			}
			out[i] = args[i].Text
		}
		args = args[n:]
		return out, nil
	}
	for len(args) > 0 {
		a := args[0]
		if !a.Literal {
			return nil, fmt.Errorf("%q is computed by the shell, not literal", a.Text)
		}
		args = args[1:]
		switch a.Text {
		case "--quiet", "--verbose", "--debug", "--force":
		case "--install":
			if in != nil {
				return nil, fmt.Errorf("two --install in one command")
			}
			v, err := take(4, "--install")
			if err != nil {
				return nil, err
			}
			prio, err := strconv.Atoi(v[3])
			if err != nil || prio < -(1<<31) || prio >= 1<<31 {
				return nil, fmt.Errorf("--install %s: priority %q is not a 32-bit integer", v[1], v[3])
			}
			in = &Install{Link: v[0], Name: v[1], Path: v[2], Priority: prio}
		case "--slave":
			if in == nil {
				return nil, fmt.Errorf("--slave before --install")
			}
			v, err := take(3, "--slave")
			if err != nil {
				return nil, err
			}
			in.Slaves = append(in.Slaves, Slave{Link: v[0], Name: v[1], Path: v[2]})
		case "--remove", "--remove-all":
			return nil, nil
		default:
			return nil, fmt.Errorf("unsupported argument %q", a.Text)
		}
	}
	if in == nil {
		return nil, fmt.Errorf("no action")
	}
	for _, p := range append([]string{in.Link, in.Path}, slavePaths(in.Slaves)...) {
		if !path.IsAbs(p) || path.Clean(p) != p {
			return nil, fmt.Errorf("%s: %q is not a clean absolute path", in.Name, p)
		}
	}
	for _, n := range append([]string{in.Name}, slaveNames(in.Slaves)...) {
		if n == "" || strings.ContainsAny(n, "/ \t\n") {
			return nil, fmt.Errorf("alternative name %q: names have no slash or blank", n)
		}
	}
	return in, nil
}

func slavePaths(s []Slave) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Link, x.Path)
	}
	return out
}

func slaveNames(s []Slave) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Name)
	}
	return out
}

// Alternative is one link group as dpkg keeps it: auto mode, every choice, the best selected.
type Alternative struct {
	Name    string
	Link    string
	Slaves  []Slave   // Link and Name only, sorted by name (dpkg sorts them)
	Choices []Install // sorted by path (dpkg sorts them)
	Best    string    // the chosen path
}

// Group merges installs into link groups: a name's choices must agree on the link and slave
// links, as update-alternatives enforces.
func Group(installs []Install) ([]Alternative, error) {
	by := map[string]*Alternative{}
	for _, in := range installs {
		a := by[in.Name]
		if a == nil {
			a = &Alternative{Name: in.Name, Link: in.Link}
			by[in.Name] = a
		}
		if a.Link != in.Link {
			return nil, fmt.Errorf("alternative %s: link %s, and %s for %s", in.Name, a.Link, in.Link, in.Path)
		}
		for _, s := range in.Slaves {
			found := false
			for _, have := range a.Slaves {
				if have.Name == s.Name {
					if have.Link != s.Link {
						return nil, fmt.Errorf("alternative %s: slave %s has links %s and %s", in.Name, s.Name, have.Link, s.Link)
					}
					found = true
				}
			}
			if !found {
				a.Slaves = append(a.Slaves, Slave{Name: s.Name, Link: s.Link})
			}
		}
		for i, c := range a.Choices {
			if c.Path == in.Path {
				a.Choices = append(a.Choices[:i], a.Choices[i+1:]...) // a later --install replaces a choice
				break
			}
		}
		a.Choices = append(a.Choices, in)
	}
	var out []Alternative
	for _, a := range by {
		sort.Slice(a.Slaves, func(i, j int) bool { return a.Slaves[i].Name < a.Slaves[j].Name })
		sort.Slice(a.Choices, func(i, j int) bool { return a.Choices[i].Path < a.Choices[j].Path })
		// Auto mode: the highest priority; on a tie, the first in path order.
		best := a.Choices[0]
		for _, c := range a.Choices[1:] {
			if c.Priority > best.Priority {
				best = c
			}
		}
		a.Best = best.Path
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AdminFile is /var/lib/dpkg/alternatives/<name> as dpkg writes it (dpkg's
// utils/update-alternatives.c, alternative_save): the mode, the master link, each slave's name
// and link, a blank line; then per choice its path, priority and each slave's path ("" when the
// choice has none); then a blank line.
func (a Alternative) AdminFile() []byte {
	var b bytes.Buffer
	b.WriteString("auto\n" + a.Link + "\n")
	for _, s := range a.Slaves {
		b.WriteString(s.Name + "\n" + s.Link + "\n")
	}
	b.WriteString("\n")
	for _, c := range a.Choices {
		fmt.Fprintf(&b, "%s\n%d\n", c.Path, c.Priority)
		for _, s := range a.Slaves {
			p := ""
			for _, cs := range c.Slaves {
				if cs.Name == s.Name {
					p = cs.Path
				}
			}
			b.WriteString(p + "\n")
		}
	}
	b.WriteString("\n")
	return b.Bytes()
}

// alternatives collects every reachable --install of pkgs' postinst scripts and writes the link
// groups into tree.
func alternatives(tree *fstree.Tree, pkgs []Package) ([]Alternative, error) {
	var installs []Install
	origin := map[string]string{}
	err := eachPostinstCall(pkgs, "update-alternatives", func(p Package, c Command) error {
		in, err := ParseUpdateAlternatives(c.Words)
		if err != nil {
			return fmt.Errorf("update-alternatives: %w", err)
		}
		if in != nil {
			installs = append(installs, *in)
			origin[in.Name] = "deb:" + p.Name
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	groups, err := Group(installs)
	if err != nil {
		return nil, err
	}
	for _, a := range groups {
		if err := writeAlternative(tree, a, origin[a.Name]); err != nil {
			return nil, fmt.Errorf("alternative %s: %w", a.Name, err)
		}
	}
	return groups, nil
}

// writeAlternative makes link -> /etc/alternatives/name -> best, the same for each slave the best
// choice has a file for (update-alternatives drops a slave whose file is missing), and the admin
// file. The links are absolute, as update-alternatives makes them.
func writeAlternative(tree *fstree.Tree, a Alternative, origin string) error {
	exists := func(p string) bool {
		r, err := resolve(tree, strings.TrimPrefix(p, "/"))
		if err != nil {
			return false
		}
		_, ok := tree.Get(r)
		return ok
	}
	if !exists(a.Best) {
		return fmt.Errorf("the chosen %s is not in the image", a.Best)
	}
	link := func(from, to string) error {
		dir, err := resolve(tree, strings.TrimPrefix(path.Dir(from), "/"))
		if err != nil {
			return err
		}
		return tree.Replace(fstree.Entry{Path: path.Join(dir, path.Base(from)), Kind: fstree.Symlink, Mode: 0o777, Target: to, Origin: origin})
	}
	var best Install
	for _, c := range a.Choices {
		if c.Path == a.Best {
			best = c
		}
	}
	if err := link(a.Link, "/etc/alternatives/"+a.Name); err != nil {
		return err
	}
	if err := link("/etc/alternatives/"+a.Name, a.Best); err != nil {
		return err
	}
	for _, s := range best.Slaves {
		if !exists(s.Path) {
			continue
		}
		if err := link(s.Link, "/etc/alternatives/"+s.Name); err != nil {
			return err
		}
		if err := link("/etc/alternatives/"+s.Name, s.Path); err != nil {
			return err
		}
	}
	return tree.Replace(fstree.Entry{Path: "var/lib/dpkg/alternatives/" + a.Name, Kind: fstree.File, Mode: 0o644, Data: a.AdminFile(), Origin: origin})
}

// eachPostinstCall calls fn for each command named name that a fresh install's postinst runs.
func eachPostinstCall(pkgs []Package, name string, fn func(Package, Command) error) error {
	for _, p := range pkgs {
		src, ok := p.Control["postinst"]
		if !ok {
			continue
		}
		s, err := ParseScript(string(src))
		if err != nil {
			return fmt.Errorf("package %s: postinst: %w", p.Name, err)
		}
		for _, c := range s.Commands {
			if c.Name() != name || !reachable(c, scriptAction["postinst"]) {
				continue
			}
			if err := fn(p, c); err != nil {
				return fmt.Errorf("package %s: postinst line %d: %w", p.Name, c.Line, err)
			}
		}
	}
	return nil
}
