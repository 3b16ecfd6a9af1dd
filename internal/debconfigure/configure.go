// Package debconfigure does, in Go and from data, what Debian's maintainer scripts and triggers
// would do when the unpacked packages are configured: update-alternatives, the CA bundle,
// /etc/shells, and the dpkg files that say every package is configured. It runs nothing, on the
// host or elsewhere, and needs no root.
//
// It is a closed world: every command of every preinst, postinst and config script that a fresh
// install runs, and every trigger some package activates, is classified by the tables of rules.go
// as produced, irrelevant (with the reason) or read-only. Anything else fails with an
// *UnhandledError naming the package and the effect, unless Options.Skip lists it on purpose.
package debconfigure

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/fstree"
)

// Package is one unpacked package and its control archive's files.
type Package struct {
	Name string
	// Control holds the control.tar files by name: preinst, postinst, config, triggers,
	// conffiles, ... (prerm and postrm are kept only to be reported as not run).
	Control map[string][]byte
}

// controlFiles are the control.tar members Configure reads.
var controlFiles = []string{"config", "conffiles", "postinst", "postrm", "preinst", "prerm", "triggers"}

// ReadControl reads the control archive of the .deb at debPath.
func ReadControl(debPath string) (Package, error) {
	f, err := os.Open(debPath)
	if err != nil {
		return Package{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Package{}, err
	}
	d, err := debian.ReadDeb(f, st.Size())
	if err != nil {
		return Package{}, fmt.Errorf("%s: %w", debPath, err)
	}
	p := Package{Name: d.Control().Get("Package"), Control: map[string][]byte{}}
	err = debian.WalkDebControl(f, st.Size(), func(hdr *tar.Header, body io.Reader) error {
		if hdr.Typeflag != tar.TypeReg || !slices.Contains(controlFiles, hdr.Name) {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(body, 4<<20))
		p.Control[hdr.Name] = b
		return err
	})
	if err != nil {
		return Package{}, fmt.Errorf("package %s: control.tar: %w", p.Name, err)
	}
	return p, nil
}

// Options tune Configure.
type Options struct {
	// Skip lists, by package, effects (as Effect.Name spells them) that the edition leaves undone on
	// purpose. A skip that matches nothing is an error, so that the list does not rot.
	Skip map[string][]string
	// Arch is dpkg's native architecture, for /var/lib/dpkg/arch-native ("amd64" if empty).
	Arch string
}

// Effect is one classified command or trigger.
type Effect struct {
	Package string
	Script  string // "postinst", "preinst", "config", "triggers", or "" for a whole script not run
	Line    int
	Name    string // the command name, "> path" for a redirection, or the trigger's name
	How     How
	Reason  string
}

// Result is what Configure did.
type Result struct {
	Effects      []Effect      // every classification, by package, script and line
	Alternatives []Alternative // the alternatives written, by name
	Certificates int           // certificates in the CA bundle (0: no ca-certificates)
	Shells       []string      // /etc/shells' lines
}

// Unhandled is one effect the builder does not know.
type Unhandled struct {
	Package, Script string
	Line            int
	Effect          string
}

// UnhandledError lists every effect no rule covers; each is named as configure.skip spells it.
// The caller either adds a rule (rules.go) or skips the effect in the recipe, on purpose.
type UnhandledError struct{ Effects []Unhandled }

func (e *UnhandledError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d maintainer-script effects are not handled (produce them in internal/debconfigure, or list them in the recipe's configure.skip):", len(e.Effects))
	for _, u := range e.Effects {
		fmt.Fprintf(&b, "\n  package %s: %s line %d: %s", u.Package, u.Script, u.Line, u.Effect)
	}
	return b.String()
}

// scriptAction is the argument dpkg passes each script run on a fresh install (Policy §6.6);
// prerm and postrm are not run then.
var scriptAction = map[string]string{"preinst": "install", "postinst": "configure", "config": "configure"}

// Classify classifies every maintainer script and trigger of pkgs, without touching a tree.
// activated says whether some file in the image lies under a file trigger's path.
func Classify(pkgs []Package, activated func(dir string) bool, skip map[string][]string) ([]Effect, error) {
	var effects []Effect
	var bad []Unhandled
	used := map[string]bool{}
	skipped := func(pkg, name string) bool {
		if slices.Contains(skip[pkg], name) {
			used[pkg+"\x00"+name] = true
			return true
		}
		return false
	}
	add := func(pkg, script string, line int, name string, r rule, ok bool) {
		// The recipe's skip comes first: an edition may leave to the guest an effect the builder
		// would otherwise produce.
		switch {
		case skipped(pkg, name):
			effects = append(effects, Effect{pkg, script, line, name, Skipped, "configure.skip"})
		case ok:
			effects = append(effects, Effect{pkg, script, line, name, r.how, r.reason})
		default:
			bad = append(bad, Unhandled{pkg, script, line, name})
		}
	}
	interests := map[string][]string{} // trigger name -> interested packages
	activatedBy := map[string]bool{}   // explicit triggers some package activates
	for _, p := range pkgs {
		for _, script := range []string{"prerm", "postrm"} {
			if _, ok := p.Control[script]; ok {
				effects = append(effects, Effect{p.Name, script, 0, script, NotRun, "dpkg runs it only on removal, upgrade or a failed install"})
			}
		}
		for _, script := range []string{"preinst", "config", "postinst"} {
			src, ok := p.Control[script]
			if !ok {
				continue
			}
			s, err := ParseScript(string(src))
			if err != nil {
				return nil, fmt.Errorf("package %s: %s: %w", p.Name, script, err)
			}
			for _, c := range s.Commands {
				if !reachable(c, scriptAction[script]) {
					effects = append(effects, Effect{p.Name, script, c.Line, c.Name(), NotRun, "in a case arm of $1 that a fresh install does not take"})
					continue
				}
				for _, w := range c.Writes {
					name := "> " + w.Text
					r, ok := packages[p.Name][name]
					add(p.Name, script, c.Line, name, r, ok)
				}
				name, r, ok := classifyCommand(p.Name, c, s.Functions)
				if name == "" {
					continue
				}
				if ok && name == "dpkg-trigger" {
					for _, w := range c.Words[1:] {
						if !strings.HasPrefix(w.Text, "-") {
							activatedBy[w.Text] = true
						}
					}
				}
				add(p.Name, script, c.Line, name, r, ok)
			}
		}
		ts, err := ParseTriggers(string(p.Control["triggers"]))
		if err != nil {
			return nil, fmt.Errorf("package %s: triggers: %w", p.Name, err)
		}
		for _, t := range ts {
			if t.Interest {
				interests[t.Name] = append(interests[t.Name], p.Name)
			} else {
				activatedBy[t.Name] = true
			}
		}
	}
	var names []string
	for n := range interests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fires := activatedBy[n] || strings.HasPrefix(n, "/") && activated(n)
		for _, p := range interests[n] {
			if !fires {
				effects = append(effects, Effect{p, "triggers", 0, n, NotRun, "no package in the set activates it"})
				continue
			}
			r, ok := triggers[n]
			add(p, "triggers", 0, n, r, ok)
		}
	}
	for pkg, l := range skip {
		for _, name := range l {
			if !used[pkg+"\x00"+name] {
				bad = append(bad, Unhandled{pkg, "configure.skip", 0, name + " (skipped, but no script of the set has it)"})
			}
		}
	}
	if len(bad) > 0 {
		sort.Slice(bad, func(i, j int) bool {
			a, b := bad[i], bad[j]
			if a.Package != b.Package {
				return a.Package < b.Package
			}
			if a.Script != b.Script {
				return a.Script < b.Script
			}
			return a.Line < b.Line
		})
		return effects, &UnhandledError{Effects: bad}
	}
	return effects, nil
}

// classifyCommand names a command's effect and finds its rule. name is "" for commands that
// need no classification (calls of the script's own functions, whose bodies are classified).
func classifyCommand(pkg string, c Command, funcs []string) (name string, r rule, ok bool) {
	if len(c.Words) == 0 {
		return "", rule{}, false
	}
	w := c.Words[0]
	if !w.Literal {
		name = "runs a computed command " + w.Text
		r, ok = packages[pkg][name]
		return name, r, ok
	}
	if slices.Contains(funcs, w.Text) {
		return "", rule{}, false
	}
	if w.Text == "." || w.Text == "source" {
		if len(c.Words) < 2 || !c.Words[1].Literal {
			return ". (a computed file)", rule{}, false
		}
		name = ". " + c.Words[1].Text
		if r, ok = packages[pkg][name]; ok {
			return name, r, true
		}
		r, ok = sourced[c.Words[1].Text]
		return name, r, ok
	}
	name = path.Base(w.Text)
	if r, ok = packages[pkg][name]; ok {
		return name, r, true
	}
	if r, ok = commands[name]; ok {
		return name, r, true
	}
	if slices.Contains(readOnly, name) {
		for _, a := range c.Words[1:] {
			if slices.Contains(readOnlyArgs[name], a.Text) || name == "sed" && strings.HasPrefix(a.Text, "-i") {
				return name + " " + a.Text, rule{}, false
			}
		}
		return name, rule{ReadOnly, ""}, true
	}
	return name, rule{}, false
}

// reachable says whether a command can run for the action: each enclosing `case "$1"` arm must
// list the action, or be `*`.
func reachable(c Command, action string) bool {
	for _, pats := range c.Actions {
		if !slices.Contains(pats, action) && !slices.Contains(pats, "*") {
			return false
		}
	}
	return true
}

// Trigger is one directive of a triggers control file (deb-triggers(5)).
type Trigger struct {
	Name     string
	Interest bool // interest*; false for activate*
	Await    bool
}

// ParseTriggers reads a triggers control file: "interest[-await|-noawait] NAME" and
// "activate[-await|-noawait] NAME" lines, # comments and blank lines (deb-triggers(5)).
func ParseTriggers(src string) ([]Trigger, error) {
	var out []Trigger
	for i, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: %q: want a directive and a trigger name", i+1, line)
		}
		t := Trigger{Name: f[1], Await: true}
		switch f[0] {
		case "interest", "interest-await":
			t.Interest = true
		case "interest-noawait":
			t.Interest, t.Await = true, false
		case "activate", "activate-await":
		case "activate-noawait":
			t.Await = false
		default:
			return nil, fmt.Errorf("line %d: unknown directive %q", i+1, f[0])
		}
		if strings.HasPrefix(t.Name, "/") && path.Clean(t.Name) != t.Name || strings.ContainsAny(t.Name, "\x00") {
			return nil, fmt.Errorf("line %d: trigger name %q is not a clean path", i+1, t.Name)
		}
		out = append(out, t)
	}
	return out, nil
}

// Configure classifies pkgs (see Classify), then writes into tree what their scripts would:
// alternatives, the CA bundle, /etc/shells and dpkg's arch-native. The tree must hold the
// unpacked packages; its var/lib/dpkg/status already says `install ok installed` for each.
func Configure(tree *fstree.Tree, pkgs []Package, opts Options) (*Result, error) {
	activated := func(dir string) bool {
		p, err := resolve(tree, strings.TrimPrefix(dir, "/"))
		if err != nil {
			return false
		}
		for _, e := range tree.Entries() {
			if strings.HasPrefix(e.Path, p+"/") && e.Kind != fstree.Dir {
				return true
			}
		}
		return false
	}
	effects, err := Classify(pkgs, activated, opts.Skip)
	if err != nil {
		return nil, err
	}
	res := &Result{Effects: effects}
	if producedBy(effects, "glib-compile-schemas", schemasDir) {
		if err := compileSchemas(tree); err != nil {
			return nil, fmt.Errorf("package libglib2.0-0t64: %w", err)
		}
	}
	if res.Alternatives, err = alternatives(tree, pkgs); err != nil {
		return nil, err
	}
	if hasPackage(pkgs, "ca-certificates") {
		if res.Certificates, err = UpdateCACertificates(tree, "deb:ca-certificates"); err != nil {
			return nil, fmt.Errorf("package ca-certificates: %w", err)
		}
	}
	if res.Shells, err = shells(tree, pkgs); err != nil {
		return nil, err
	}
	if err := fixModes(tree); err != nil {
		return nil, err
	}
	if hasPackage(pkgs, "libc-bin") {
		if err := nsswitch(tree); err != nil {
			return nil, fmt.Errorf("package libc-bin: %w", err)
		}
	}
	if hasPackage(pkgs, "fontconfig-config") {
		if err := fontconfigLinks(tree); err != nil {
			return nil, fmt.Errorf("package fontconfig-config: %w", err)
		}
	}
	if hasPackage(pkgs, "man-db") {
		if err := manDB(tree); err != nil {
			return nil, fmt.Errorf("package man-db: %w", err)
		}
	}
	if _, ok := tree.Get("var/lib/dpkg/info"); ok {
		// The database layout: "1" says info files of Multi-Arch: same packages carry ":<arch>"
		// (dpkg's src/main/dpkg-db-format, PACKAGE_DB_FORMAT 1). Without it dpkg reads the legacy
		// layout and `dpkg --audit` reports their .list files missing.
		if _, ok := tree.Get("var/lib/dpkg/info/format"); !ok {
			if err := tree.Add(fstree.Entry{Path: "var/lib/dpkg/info/format", Kind: fstree.File, Mode: 0o644, Data: []byte("1\n"), Origin: "deb:dpkg"}); err != nil {
				return nil, err
			}
		}
	}
	if hasPackage(pkgs, "dpkg") {
		arch := opts.Arch
		if arch == "" {
			arch = "amd64"
		}
		// dpkg's postinst: echo "$DPKG_MAINTSCRIPT_ARCH" >$admindir/arch-native.
		if err := tree.Replace(fstree.Entry{Path: "var/lib/dpkg/arch-native", Kind: fstree.File, Mode: 0o644, Data: []byte(arch + "\n"), Origin: "deb:dpkg"}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func hasPackage(pkgs []Package, name string) bool {
	return slices.ContainsFunc(pkgs, func(p Package) bool { return p.Name == name })
}

// producedBy reports whether one of the effects, a command or a file trigger on dir, is
// Produced: the builder is to do its work.
func producedBy(effects []Effect, command, dir string) bool {
	return slices.ContainsFunc(effects, func(e Effect) bool {
		return (e.Name == command || e.Name == "/"+dir) && e.How == Produced
	})
}

// maxSymlinks bounds symlink resolution, as the kernel does (MAXSYMLINKS, 40).
const maxSymlinks = 40

// resolve follows the tree's symlinks through every component of p (a tree path).
func resolve(tree *fstree.Tree, p string) (string, error) {
	for depth := 0; ; depth++ {
		if depth > maxSymlinks {
			return "", fmt.Errorf("%s: too many levels of symlinks", p)
		}
		parts := strings.Split(strings.Trim(p, "/"), "/")
		changed := false
		for i := range parts {
			here := strings.Join(parts[:i+1], "/")
			e, ok := tree.Get(here)
			if !ok || e.Kind != fstree.Symlink {
				continue
			}
			t := e.Target
			if !path.IsAbs(t) {
				t = path.Join(path.Dir("/"+here), t)
			}
			p = strings.TrimPrefix(path.Join(t, strings.Join(parts[i+1:], "/")), "/")
			changed = true
			break
		}
		if !changed {
			return p, nil
		}
	}
}

// modeFixes are owners and modes postinst scripts set on files their packages ship otherwise.
var modeFixes = []struct {
	pkg, path string
	uid, gid  int
	mode      uint32
}{
	// sudo's postinst: chown root:root /etc/sudoers; chmod 440 /etc/sudoers (the .deb has 0644).
	{"sudo", "etc/sudoers", 0, 0, 0o440},
}

func fixModes(tree *fstree.Tree) error {
	for _, f := range modeFixes {
		e, ok := tree.Get(f.path)
		if !ok || e.Origin != "deb:"+f.pkg {
			continue
		}
		c := *e
		c.UID, c.GID, c.Mode = f.uid, f.gid, fs.FileMode(f.mode)
		if err := tree.Replace(c); err != nil {
			return fmt.Errorf("package %s: %w", f.pkg, err)
		}
	}
	return nil
}

// manDB writes what man-db's postinst leaves on a fresh install with debconf's defaults: the
// auto-update flag its trigger reads, and the empty local AppArmor include beside its profile.
// (The index database is mandb's run, which the recipe skips: man finds pages without it.)
func manDB(tree *fstree.Tree) error {
	files := []string{"var/lib/man-db/auto-update"}
	if _, ok := tree.Get("etc/apparmor.d/usr.bin.man"); ok {
		files = append(files, "etc/apparmor.d/local/usr.bin.man")
	}
	for _, p := range files {
		if err := tree.Replace(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: []byte{}, Origin: "deb:man-db"}); err != nil {
			return err
		}
	}
	return nil
}

// fontconfigDefaults are the conf.d links fontconfig-config's postinst makes on a first install
// with debconf's defaults: hinting_style hintslight (its config script's default) and
// enable_bitmaps false (the template's default). hinting_type Native makes no link; the
// subpixel_rendering answer keeps the 10-sub-pixel-none.conf link the .deb ships (the config script
// answers Never when it finds it, as under `dpkg -i`), so its rm and ln cancel out.
var fontconfigDefaults = []string{"10-hinting-slight.conf", "70-no-bitmaps-except-emoji.conf"}

func fontconfigLinks(tree *fstree.Tree) error {
	for _, name := range fontconfigDefaults {
		target := "/usr/share/fontconfig/conf.avail/" + name
		if _, ok := tree.Get(strings.TrimPrefix(target, "/")); !ok {
			return fmt.Errorf("%s: not in the package", target)
		}
		if err := tree.Replace(fstree.Entry{Path: "etc/fonts/conf.d/" + name, Kind: fstree.Symlink, Mode: 0o777, Target: target, Origin: "deb:fontconfig-config"}); err != nil {
			return err
		}
	}
	return nil
}

// nsswitch is libc-bin's postinst on a first install: /etc/nsswitch.conf copied from its default
// (install_from_default: `cp -p`, only when the file is missing).
func nsswitch(tree *fstree.Tree) error {
	if _, ok := tree.Get("etc/nsswitch.conf"); ok {
		return nil
	}
	src, ok := tree.Get("usr/share/libc-bin/nsswitch.conf")
	if !ok {
		return fmt.Errorf("usr/share/libc-bin/nsswitch.conf: not in the package")
	}
	c := *src
	c.Path = "etc/nsswitch.conf"
	return tree.Add(c)
}
