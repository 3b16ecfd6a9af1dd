// Package debian is the verified path from the Debian archive to bytes on disk: finding a mirror,
// verifying InRelease against the archive keyring, parsing Packages indices, fetching by digest into
// the cache, reading .deb files, and the lock file that pins it all.
package debian

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Field is one "Name: value" of a deb822 paragraph. A multi-line value keeps its continuation
// lines, joined by "\n", each with its first space or tab removed (Debian Policy §5.1).
type Field struct {
	Name, Value string
	Line        int // 1-based line of the field name
}

// Paragraph is one deb822 stanza, fields in file order.
type Paragraph struct {
	Line   int // 1-based line where the paragraph starts
	Fields []Field
}

// Lookup returns the value of the field named name (field names are case-insensitive, Policy §5.1).
func (p Paragraph) Lookup(name string) (string, bool) {
	for _, f := range p.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Get returns the value of the field named name, or "".
func (p Paragraph) Get(name string) string {
	v, _ := p.Lookup(name)
	return v
}

// Map returns the fields as a map keyed by the names as written.
func (p Paragraph) Map() map[string]string {
	m := make(map[string]string, len(p.Fields))
	for _, f := range p.Fields {
		m[f.Name] = f.Value
	}
	return m
}

// ParseControl reads deb822 paragraphs (Debian Policy §5.1): "Name: value" fields, continuation
// lines starting with a space or tab, paragraphs separated by blank lines (or lines of only
// whitespace), and lines starting with '#' ignored. Errors carry the line number.
func ParseControl(r io.Reader) ([]Paragraph, error) {
	var out []Paragraph
	err := scanControl(r, func(p Paragraph) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// scanControl calls fn for each paragraph as it is read, so that large indices need not be held
// twice in memory.
func scanControl(r io.Reader, fn func(Paragraph) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	names := map[string]string{} // interned field names: a Packages file repeats a few dozen
	var (
		cur  Paragraph
		cont []string // continuation lines of the last field
		line int
		seen = map[string]bool{}
	)
	flushField := func() {
		if len(cont) > 0 {
			last := &cur.Fields[len(cur.Fields)-1]
			last.Value = last.Value + "\n" + strings.Join(cont, "\n")
			cont = cont[:0]
		}
	}
	flush := func() error {
		flushField()
		if len(cur.Fields) == 0 {
			return nil
		}
		p := cur
		cur = Paragraph{}
		clear(seen)
		return fn(p)
	}
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimLeft(text, " \t") == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if text[0] == '#' {
			continue
		}
		if text[0] == ' ' || text[0] == '\t' {
			if len(cur.Fields) == 0 {
				return fmt.Errorf("line %d: continuation line without a field", line)
			}
			cont = append(cont, strings.TrimRight(text[1:], " \t"))
			continue
		}
		flushField()
		name, value, ok := strings.Cut(text, ":")
		if !ok {
			return fmt.Errorf("line %d: expected \"Field: value\", got %q", line, truncate(text, 60))
		}
		if name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("line %d: invalid field name %q", line, truncate(name, 60))
		}
		if n, ok := names[name]; ok {
			name = n
		} else if len(names) < 1024 {
			names[name] = name
		}
		key := strings.ToLower(name)
		if seen[key] {
			return fmt.Errorf("line %d: duplicate field %q", line, name)
		}
		seen[key] = true
		if len(cur.Fields) == 0 {
			cur.Line = line
		}
		cur.Fields = append(cur.Fields, Field{Name: name, Value: strings.Trim(value, " \t"), Line: line})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Package is one stanza of a Packages index. Relation fields are kept raw; parse them with
// ParseRelations.
type Package struct {
	Name, Version, Architecture string
	Filename                    string // relative to the mirror root, e.g. "pool/main/s/syslinux/isolinux_....deb"
	Size                        int64
	SHA256                      string
	Source                      string // source package name, without the "(version)" part; Name if absent
	Depends, PreDepends         string
	Provides                    string
	MultiArch                   string
	Section, Priority           string
	InstalledSize               string // KiB, as written
	Description                 string // the synopsis (first line)
	Fields                      map[string]string
	// Suite is the suite whose index listed the package ("trixie-security"), set by the fetcher;
	// it says which archive serves the file.
	Suite string
}

// Locked returns the package as a lock-file entry, pulled in for requested.
func (p Package) Locked(requested string) LockedPackage {
	return LockedPackage{Name: p.Name, Version: p.Version, Architecture: p.Architecture, Filename: p.Filename,
		SHA256: p.SHA256, Source: p.Source, Size: p.Size, Suite: p.Suite, Requested: requested}
}

// ParsePackages reads a Packages index. Every stanza needs Package and Version.
func ParsePackages(r io.Reader) ([]Package, error) {
	var out []Package
	err := scanControl(r, func(p Paragraph) error {
		pkg, err := packageFrom(p)
		if err != nil {
			return err
		}
		out = append(out, pkg)
		return nil
	})
	return out, err
}

func packageFrom(p Paragraph) (Package, error) {
	pkg := Package{Fields: p.Map()}
	for _, f := range p.Fields {
		switch strings.ToLower(f.Name) {
		case "package":
			pkg.Name = f.Value
		case "version":
			pkg.Version = f.Value
		case "architecture":
			pkg.Architecture = f.Value
		case "filename":
			pkg.Filename = f.Value
		case "size":
			n, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || n < 0 {
				return Package{}, fmt.Errorf("line %d: invalid Size %q", f.Line, f.Value)
			}
			pkg.Size = n
		case "sha256":
			pkg.SHA256 = f.Value
		case "source":
			pkg.Source, _, _ = strings.Cut(f.Value, " ")
		case "depends":
			pkg.Depends = f.Value
		case "pre-depends":
			pkg.PreDepends = f.Value
		case "provides":
			pkg.Provides = f.Value
		case "multi-arch":
			pkg.MultiArch = f.Value
		case "section":
			pkg.Section = f.Value
		case "priority":
			pkg.Priority = f.Value
		case "installed-size":
			pkg.InstalledSize = f.Value
		case "description":
			pkg.Description, _, _ = strings.Cut(f.Value, "\n")
		}
	}
	if pkg.Name == "" || pkg.Version == "" {
		return Package{}, fmt.Errorf("line %d: stanza without Package or Version", p.Line)
	}
	if pkg.Source == "" {
		pkg.Source = pkg.Name
	}
	return pkg, nil
}

// Index is a parsed Packages file, looked up by package name.
type Index struct {
	// File is the Packages file this came from (path relative to the mirror, size and SHA-256),
	// when it was fetched by FetchIndex.
	File   LockedFile
	byName map[string][]Package
}

// NewIndex indexes pkgs by name.
func NewIndex(pkgs []Package) *Index {
	ix := &Index{byName: make(map[string][]Package, len(pkgs))}
	for _, p := range pkgs {
		ix.byName[p.Name] = append(ix.byName[p.Name], p)
	}
	return ix
}

// Lookup returns the package called name; when the index holds several versions, the highest.
func (ix *Index) Lookup(name string) (Package, bool) {
	all := ix.byName[name]
	if len(all) == 0 {
		return Package{}, false
	}
	best := all[0]
	for _, p := range all[1:] {
		if CompareVersions(p.Version, best.Version) > 0 {
			best = p
		}
	}
	return best, true
}

// Versions returns every version of name in the index, highest first.
func (ix *Index) Versions(name string) []Package {
	all := append([]Package(nil), ix.byName[name]...)
	sort.SliceStable(all, func(i, j int) bool { return CompareVersions(all[i].Version, all[j].Version) > 0 })
	return all
}

// all returns every stanza of the index.
func (ix *Index) all() []Package {
	var out []Package
	for _, v := range ix.byName {
		out = append(out, v...)
	}
	return out
}

// Len is the number of stanzas in the index.
func (ix *Index) Len() int {
	n := 0
	for _, v := range ix.byName {
		n += len(v)
	}
	return n
}
