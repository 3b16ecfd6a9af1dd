package debian

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Lock pins every Debian input of a build: the suite's InRelease, the Packages index used and
// each package by version and digest (recipes/debian.lock).
type Lock struct {
	Suite        string          `json:"suite"`        // e.g. "trixie"
	Architecture string          `json:"architecture"` // "amd64"
	Components   []string        `json:"components"`
	Release      LockedFile      `json:"release"`  // InRelease: sha256 + date, for the record
	Index        LockedFile      `json:"index"`    // path + size + sha256 of the Packages file used
	Packages     []LockedPackage `json:"packages"` // sorted by name
	// Sets lists, for each recipe of kind debian-packages, the packages its dependency resolution
	// chose (sorted names, each pinned in Packages).
	Sets map[string][]string `json:"sets,omitempty"`
}

// LockedFile is a file of the archive pinned by digest.
type LockedFile struct {
	Path   string `json:"path,omitempty"` // relative to the mirror root
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256"`
	Date   string `json:"date,omitempty"` // RFC 3339, UTC (the Release's Date)
}

// LockedPackage is one package pinned by version and digest.
type LockedPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Filename     string `json:"filename"`
	SHA256       string `json:"sha256"`
	Source       string `json:"source"`
	Size         int64  `json:"size"`
	// Requested is the name the recipe asked for: the package's own name, or for a package
	// locked by following a dependency (Request.FollowDepends), the meta-package's name.
	Requested string `json:"requested,omitempty"`
}

// Request asks LockPackages for one package.
type Request struct {
	Name string
	// FollowDepends, if non-empty (e.g. "linux-image-"), also locks the first dependency of Name
	// whose name has this prefix: linux-image-amd64 -> linux-image-6.12.*+deb13-amd64.
	FollowDepends string
}

// ReadLock reads and checks a lock file.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the lock object", path)
	}
	if err := l.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &l, nil
}

func (l *Lock) check() error {
	var problems []string
	if l.Suite == "" || l.Architecture == "" {
		problems = append(problems, "suite and architecture are required")
	}
	seen := map[string]bool{}
	for i, p := range l.Packages {
		switch {
		case p.Name == "" || p.Version == "" || p.Filename == "":
			problems = append(problems, fmt.Sprintf("packages[%d]: name, version and filename are required", i))
		case !hexDigest(p.SHA256):
			problems = append(problems, fmt.Sprintf("package %s: invalid sha256 %q", p.Name, p.SHA256))
		case checkRelPath(p.Filename) != nil:
			problems = append(problems, fmt.Sprintf("package %s: invalid filename %q", p.Name, p.Filename))
		case seen[p.Name]:
			problems = append(problems, fmt.Sprintf("package %s: locked twice", p.Name))
		}
		seen[p.Name] = true
	}
	for set, names := range l.Sets {
		for _, n := range names {
			if !seen[n] {
				problems = append(problems, fmt.Sprintf("set %s: package %s is not pinned", set, n))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Marshal returns the lock as written to disk: packages sorted by name, components sorted,
// two-space indentation and a trailing newline, so equal locks are equal bytes.
func (l *Lock) Marshal() ([]byte, error) {
	c := *l
	c.Components = append([]string(nil), l.Components...)
	sort.Strings(c.Components)
	c.Packages = append([]LockedPackage(nil), l.Packages...)
	sort.Slice(c.Packages, func(i, j int) bool {
		if c.Packages[i].Name != c.Packages[j].Name {
			return c.Packages[i].Name < c.Packages[j].Name
		}
		return c.Packages[i].Architecture < c.Packages[j].Architecture
	})
	if len(l.Sets) > 0 {
		c.Sets = map[string][]string{}
		for k, v := range l.Sets {
			c.Sets[k] = append([]string(nil), v...)
			sort.Strings(c.Sets[k])
		}
	}
	if c.Components == nil {
		c.Components = []string{}
	}
	if c.Packages == nil {
		c.Packages = []LockedPackage{}
	}
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Write writes the lock to path atomically (a temporary file in the same folder, then rename).
func (l *Lock) Write(path string) error {
	data, err := l.Marshal()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Package returns the locked package called name.
func (l *Lock) Package(name string) (LockedPackage, bool) {
	for _, p := range l.Packages {
		if p.Name == name {
			return p, true
		}
	}
	return LockedPackage{}, false
}

// Followed returns the package locked by following request's dependency (the kernel image for
// "linux-image-amd64"), or false if the request followed none.
func (l *Lock) Followed(request string) (LockedPackage, bool) {
	for _, p := range l.Packages {
		if p.Requested == request && p.Name != request {
			return p, true
		}
	}
	return LockedPackage{}, false
}

// LockComponent is the archive component LockPackages reads.
const LockComponent = "main"

// LockPackages resolves requests against the current archive: it fetches and verifies the
// suite's InRelease with keyring (at time now), fetches the main Packages index for arch and
// pins each requested package. An unknown name is an error naming it.
func LockPackages(ctx context.Context, f *Fetcher, suite, arch string, keyring io.Reader, now time.Time, requests []Request) (*Lock, error) {
	lock, ix, err := OpenArchive(ctx, f, suite, arch, keyring, now)
	if err != nil {
		return nil, err
	}
	if err := lock.Pin(ix, requests); err != nil {
		return nil, err
	}
	return lock, nil
}

// OpenArchive fetches and verifies the suite's InRelease with keyring (at time now) and the main
// Packages index for arch by the digest it gives. It returns a lock with no packages yet, recording
// both, and the index to pin packages from.
func OpenArchive(ctx context.Context, f *Fetcher, suite, arch string, keyring io.Reader, now time.Time) (*Lock, *Index, error) {
	data, err := f.FetchRelease(ctx, suite)
	if err != nil {
		return nil, nil, err
	}
	rel, err := VerifyInRelease(data, keyring, now)
	if err != nil {
		return nil, nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	if rel.Codename != suite && rel.Suite != suite {
		return nil, nil, fmt.Errorf("asked for suite %s, the archive's InRelease is for %s (%s)", suite, rel.Codename, rel.Suite)
	}
	ix, err := f.FetchIndex(ctx, rel, LockComponent, arch)
	if err != nil {
		return nil, nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	sum := sha256.Sum256(data)
	lock := &Lock{
		Suite:        suite,
		Architecture: arch,
		Components:   []string{LockComponent},
		Release: LockedFile{
			Path:   "dists/" + suite + "/InRelease",
			Size:   int64(len(data)),
			SHA256: hex.EncodeToString(sum[:]),
			Date:   rel.Date.UTC().Format(time.RFC3339),
		},
		Index: ix.File,
	}
	return lock, ix, nil
}

// Add pins packages already chosen (e.g. by a dependency resolver); a package pinned before keeps
// its entry.
func (l *Lock) Add(pkgs ...LockedPackage) {
	have := map[string]bool{}
	for _, p := range l.Packages {
		have[p.Name] = true
	}
	for _, p := range pkgs {
		if !have[p.Name] {
			have[p.Name] = true
			l.Packages = append(l.Packages, p)
		}
	}
	sort.Slice(l.Packages, func(i, j int) bool { return l.Packages[i].Name < l.Packages[j].Name })
}

// Pin looks each request up in the index and pins it (and, with FollowDepends, the dependency it
// names). An unknown name is an error naming every unknown one.
func (l *Lock) Pin(ix *Index, requests []Request) error {
	suite, arch := l.Suite, l.Architecture
	var missing []string
	locked := map[string]bool{}
	for _, p := range l.Packages {
		locked[p.Name] = true
	}
	add := func(p Package, requested string) {
		if locked[p.Name] {
			return
		}
		locked[p.Name] = true
		l.Packages = append(l.Packages, LockedPackage{
			Name: p.Name, Version: p.Version, Architecture: p.Architecture, Filename: p.Filename,
			SHA256: p.SHA256, Source: p.Source, Size: p.Size, Requested: requested,
		})
	}
	for _, r := range requests {
		p, ok := ix.Lookup(r.Name)
		if !ok {
			missing = append(missing, r.Name)
			continue
		}
		add(p, r.Name)
		if r.FollowDepends == "" {
			continue
		}
		dep, err := followDepends(ix, p, r.FollowDepends)
		if err != nil {
			return fmt.Errorf("suite %s: %w", suite, err)
		}
		add(dep, r.Name)
	}
	if len(missing) > 0 {
		return fmt.Errorf("suite %s %s: no such package: %s", suite, arch, strings.Join(missing, ", "))
	}
	sort.Slice(l.Packages, func(i, j int) bool { return l.Packages[i].Name < l.Packages[j].Name })
	return nil
}

// followDepends finds the first Pre-Depends or Depends alternative of p named with prefix, and
// the index's package satisfying it.
func followDepends(ix *Index, p Package, prefix string) (Package, error) {
	for _, field := range []string{p.PreDepends, p.Depends} {
		groups, err := ParseRelations(field)
		if err != nil {
			return Package{}, fmt.Errorf("package %s: %w", p.Name, err)
		}
		for _, g := range groups {
			for _, r := range g {
				if !strings.HasPrefix(r.Name, prefix) {
					continue
				}
				for _, cand := range ix.Versions(r.Name) {
					if r.SatisfiedBy(cand.Version) {
						return cand, nil
					}
				}
				return Package{}, fmt.Errorf("package %s depends on %s, which the index does not have", p.Name, r)
			}
		}
	}
	return Package{}, fmt.Errorf("package %s has no dependency named %s*", p.Name, prefix)
}
