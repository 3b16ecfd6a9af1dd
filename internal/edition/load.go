package edition

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/initramfs/dm"
	"github.com/genai-os/genai-build/internal/output"
	"github.com/genai-os/genai-build/internal/strictyaml"
)

// Problem is one thing wrong with a manifest, at a position.
type Problem struct {
	File  string
	Line  int
	Field string // dotted path, e.g. "kernel.modules[3]"
	Msg   string
}

func (p Problem) String() string {
	pos := p.File
	if p.Line > 0 {
		pos += ":" + strconv.Itoa(p.Line)
	}
	if p.Field != "" {
		return fmt.Sprintf("%s: %s: %s", pos, p.Field, p.Msg)
	}
	return fmt.Sprintf("%s: %s", pos, p.Msg)
}

// Problems is every problem found; it is the error Load and Validate return.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// UnknownEditionError is returned for a name with no editions/<name>.yaml.
type UnknownEditionError struct {
	Name  string
	Known []string
}

func (e *UnknownEditionError) Error() string {
	return fmt.Sprintf("unknown edition %q; known editions: %s", e.Name, strings.Join(e.Known, ", "))
}

// Set is the editions folder.
type Set struct {
	Dir string
}

// Names lists the editions in the folder, sorted, abstract ones included.
func (s Set) Names() ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(s.Dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range matches {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".yaml"))
	}
	sort.Strings(names)
	return names, nil
}

// file is one manifest as written, with the position of every field.
type file struct {
	path string
	ed   Edition
	pos  map[string]int // field path -> line
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// readFile decodes one manifest strictly.
func readFile(path string) (*file, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := &file{path: path}
	pos, problems := strictyaml.Decode(data, &f.ed)
	if len(problems) > 0 {
		var ps Problems
		for _, p := range problems {
			msg := strings.TrimSuffix(p.Msg, " of Edition")
			ps = append(ps, Problem{File: path, Line: p.Line, Msg: msg})
		}
		return nil, ps
	}
	f.pos = pos
	f.ed.Source = path
	return f, nil
}

// Load reads editions/<name>.yaml and its extends chain, merges it and validates the result against
// the repository root (recipes, overlays and kconfig fragments must exist). The error is a Problems
// list, an *UnknownEditionError, or an I/O error.
func (s Set) Load(name string) (*Edition, error) {
	known, err := s.Names()
	if err != nil {
		return nil, err
	}
	if !contains(known, name) {
		return nil, &UnknownEditionError{Name: name, Known: known}
	}
	var chain []*file
	seen := map[string]bool{}
	for cur := name; cur != ""; {
		if seen[cur] {
			var names []string
			for _, f := range chain {
				names = append(names, f.ed.Name)
			}
			last := chain[len(chain)-1]
			return nil, Problems{{File: last.path, Line: last.pos["extends"], Field: "extends",
				Msg: fmt.Sprintf("extends chain loops: %s -> %s", strings.Join(names, " -> "), cur)}}
		}
		seen[cur] = true
		f, err := readFile(filepath.Join(s.Dir, cur+".yaml"))
		if err != nil {
			return nil, err
		}
		if ps := checkFile(f, cur, known); len(ps) > 0 {
			return nil, ps
		}
		chain = append(chain, f)
		cur = f.ed.Extends
	}
	// Merge from the root of the chain down to the leaf.
	merged := chain[len(chain)-1].ed
	merged.Abstract = false
	for i := len(chain) - 2; i >= 0; i-- {
		merged = Merge(merged, chain[i].ed)
	}
	merged.Abstract = chain[0].ed.Abstract
	merged.Source = chain[0].path
	for _, f := range chain {
		merged.Chain = append(merged.Chain, f.path)
	}
	if ps := validate(&merged, chain, filepath.Dir(s.Dir)); len(ps) > 0 {
		return nil, ps
	}
	return &merged, nil
}

// checkFile reports what is wrong with a single manifest on its own.
func checkFile(f *file, name string, known []string) Problems {
	var ps Problems
	add := func(field, msg string) {
		ps = append(ps, Problem{File: f.path, Line: f.pos[field], Field: field, Msg: msg})
	}
	switch {
	case f.ed.Name == "":
		add("name", "missing (it must be "+strconv.Quote(name)+", the file's name)")
	case f.ed.Name != name:
		add("name", fmt.Sprintf("%q does not match the file name %q", f.ed.Name, name+".yaml"))
	}
	if f.ed.Extends != "" && !contains(known, f.ed.Extends) {
		add("extends", fmt.Sprintf("unknown edition %q; known editions: %s", f.ed.Extends, strings.Join(known, ", ")))
	}
	return ps
}

// Validate checks a merged edition against the repository root and reports every problem.
func validate(e *Edition, chain []*file, root string) Problems {
	var ps Problems
	// where finds the file and line that set a field, searching the chain from the leaf up.
	where := func(field string) (string, int) {
		for _, f := range chain {
			if l, ok := f.pos[field]; ok {
				return f.path, l
			}
		}
		return chain[0].path, 0
	}
	add := func(field, msg string) {
		file, line := where(field)
		ps = append(ps, Problem{File: file, Line: line, Field: field, Msg: msg})
	}
	// listItem finds the position of a list item by value, for lists merged from several files.
	listItem := func(list, value string) string {
		for _, f := range chain {
			for i := 0; ; i++ {
				k := fmt.Sprintf("%s[%d]", list, i)
				if _, ok := f.pos[k]; !ok {
					break
				}
				if itemValue(f, list, i) == value {
					return k
				}
			}
		}
		return list
	}
	if !validName.MatchString(e.Name) {
		add("name", fmt.Sprintf("%q: use lower-case letters, digits and '-'", e.Name))
	}
	if e.Abstract {
		// Abstract editions are checked only as far as their fields go.
		return ps
	}
	if e.Version == "" {
		add("version", "missing: set a release version (e.g. 0.1.0) here or in a parent")
	} else if !regexp.MustCompile(`^[0-9][0-9A-Za-z.+~-]*$`).MatchString(e.Version) {
		add("version", fmt.Sprintf("%q: a version starts with a digit and holds letters, digits and . + ~ -", e.Version))
	}
	if e.Arch != "amd64" {
		add("arch", fmt.Sprintf("%q is not supported; supported: amd64", e.Arch))
	}
	if e.Kernel.Recipe == "" {
		add("kernel.recipe", "missing: name the kernel recipe (e.g. kernel)")
	} else if !exists(filepath.Join(root, "recipes", e.Kernel.Recipe+".yaml")) {
		add("kernel.recipe", fmt.Sprintf("no recipe %q (recipes/%s.yaml)", e.Kernel.Recipe, e.Kernel.Recipe))
	}
	for _, c := range e.Kernel.Config {
		if !exists(filepath.Join(root, "kconfig", c+".config")) {
			add(listItem("kernel.config", c), fmt.Sprintf("no kernel requirement fragment kconfig/%s.config", c))
		}
	}
	for _, r := range e.Recipes {
		if !exists(filepath.Join(root, "recipes", r+".yaml")) {
			add(listItem("recipes", r), fmt.Sprintf("no recipe %q (recipes/%s.yaml)", r, r))
		}
	}
	for _, o := range e.Overlays {
		if !isDir(filepath.Join(root, "overlays", o)) {
			add(listItem("overlays", o), fmt.Sprintf("no overlay folder overlays/%s/", o))
		}
	}
	if len(e.Outputs) == 0 {
		add("outputs", fmt.Sprintf("no output format: add one of %s", strings.Join(output.Names(), ", ")))
	}
	for _, o := range e.Outputs {
		if _, ok := output.Lookup(o); !ok {
			add(listItem("outputs", o), fmt.Sprintf("unknown output format %q; known: %s", o, strings.Join(output.Names(), ", ")))
		}
	}
	switch e.Root.Placement {
	case "", PlacementInitramfs, PlacementImage:
	default:
		add("root.placement", fmt.Sprintf("%q: use %s or %s", e.Root.Placement, PlacementInitramfs, PlacementImage))
	}
	if t := e.Root.Tmpfs; t != "" {
		if e.Root.PlacementOr() != PlacementImage {
			add("root.tmpfs", "only a root on the medium (placement: image) has a tmpfs over it")
		} else if !regexp.MustCompile(`^[1-9][0-9]*(%|[kmg])?$`).MatchString(t) {
			add("root.tmpfs", fmt.Sprintf("%q: a size as tmpfs takes it (50%%, 512m, 2g)", t))
		}
	}
	if e.Root.VerityOn() && e.Root.PlacementOr() != PlacementImage {
		add("root.verity", "only a root on the medium (placement: image) has layers to verify")
	}
	if c := e.Root.OnCorruption; c != "" {
		if !e.Root.VerityOn() || e.Root.PlacementOr() != PlacementImage {
			add("root.on_corruption", "only with root.verity: true and placement: image")
		} else if !slices.Contains(dm.CorruptionModes, c) {
			add("root.on_corruption", fmt.Sprintf("%q: use one of %s", c, strings.Join(dm.CorruptionModes, ", ")))
		}
	}
	if l := e.Boot.Level; l != nil && (*l < 0 || *l > 1) {
		add("boot.level", fmt.Sprintf("%g is outside 0.0..1.0", *l))
	}
	if t := e.Boot.Timeout; t != nil && (*t < 0 || *t > 600) {
		add("boot.timeout", fmt.Sprintf("%d seconds is outside 0..600", *t))
	}
	if e.Boot.Hostname != "" && !regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`).MatchString(e.Boot.Hostname) {
		add("boot.hostname", fmt.Sprintf("%q is not a valid host name", e.Boot.Hostname))
	}
	if e.Boot.Serial != "" && !regexp.MustCompile(`^ttyS[0-9]+(,[0-9]+)?$`).MatchString(e.Boot.Serial) {
		add("boot.serial", fmt.Sprintf("%q: expected ttySN or ttySN,BAUD", e.Boot.Serial))
	}
	switch e.Initramfs.Compression {
	case "", "zstd", "gzip", "xz", "none":
	default:
		add("initramfs.compression", fmt.Sprintf("%q: use zstd, gzip, xz or none", e.Initramfs.Compression))
	}
	for _, p := range e.Assistant.Check() {
		add(p[0], p[1])
	}
	for _, p := range e.Firewall.Check() {
		add(p[0], p[1])
	}
	for _, p := range e.Disk.Check(slices.Contains(e.Outputs, "disk-image")) {
		add(p[0], p[1])
	}
	for _, p := range e.Session.Check() {
		add(p[0], p[1])
	}
	if !e.Session.AutologinOn() && !slices.ContainsFunc(e.Users, func(u User) bool { return u.Name != "root" && u.PasswordHash != "" && !u.Locked }) {
		add("session.autologin", "false needs a user who can log in to start the session: give one (not root) a password_hash (mkpasswd -m sha-512)")
	}
	for _, m := range e.Kernel.Modules {
		if !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(m) {
			add(listItem("kernel.modules", m), fmt.Sprintf("%q is not a module name", m))
		}
	}
	return ps
}

// itemValue is the scalar value of list[i] in f.
func itemValue(f *file, list string, i int) string {
	var l []string
	switch list {
	case "recipes":
		l = f.ed.Recipes
	case "overlays":
		l = f.ed.Overlays
	case "outputs":
		l = f.ed.Outputs
	case "kernel.config":
		l = f.ed.Kernel.Config
	case "kernel.modules":
		l = f.ed.Kernel.Modules
	}
	if i < len(l) {
		return l[i]
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
