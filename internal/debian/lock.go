package debian

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Lock pins every Debian input of a build: each followed suite's InRelease and Packages index,
// and each package by version, digest and the suite it comes from (recipes/debian.lock).
type Lock struct {
	Suite        string   `json:"suite"`        // the release followed, e.g. "trixie"
	Architecture string   `json:"architecture"` // "amd64"
	Components   []string `json:"components"`
	// Suites are the suites the packages were chosen from (FollowedSuites), in that order.
	Suites   []LockedSuite   `json:"suites"`
	Packages []LockedPackage `json:"packages"` // sorted by name
	// Sets lists, for each recipe of kind debian-packages, the packages its dependency resolution
	// chose (sorted names, each pinned in Packages).
	Sets map[string][]string `json:"sets,omitempty"`
	// Recipes holds, for each recipe resolved, the digest of what it asks of the archive
	// (recipe.LockDigest), so a build can tell that a recipe changed since the lock was written.
	Recipes map[string]string `json:"recipes,omitempty"`
}

// LockedSuite is one suite of the archive as it was when the lock was written.
type LockedSuite struct {
	Name    string     `json:"name"`    // "trixie-security"
	Archive Archive    `json:"archive"` // which archive serves it (ArchiveOf(Name)); no host is named
	Release LockedFile `json:"release"` // InRelease: sha256 + date (the rollback check compares dates)
	Index   LockedFile `json:"index"`   // path + size + sha256 of the Packages file used
}

// LockedFile is a file of the archive pinned by digest.
type LockedFile struct {
	Path   string `json:"path,omitempty"` // relative to the archive's root
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256"`
	Date   string `json:"date,omitempty"` // RFC 3339, UTC (the Release's Date)
}

// LockedPackage is one package pinned by version and digest.
type LockedPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Suite        string `json:"suite"` // the suite it was chosen from; its archive serves Filename
	Filename     string `json:"filename"`
	SHA256       string `json:"sha256"`
	Source       string `json:"source"`
	Size         int64  `json:"size"`
	// Requested is the name the recipe asked for: the package's own name, or for a package
	// locked by following a dependency (Request.FollowDepends), the meta-package's name.
	Requested string `json:"requested,omitempty"`
}

// FollowedSuites are the suites a lock follows for a release: the release itself, its -updates
// suite (stable updates) and its -security suite (security fixes, from the security archive).
func FollowedSuites(release string) []string {
	return []string{release, release + "-updates", release + "-security"}
}

// SuiteEntry returns the locked suite called name.
func (l *Lock) SuiteEntry(name string) (LockedSuite, bool) {
	for _, s := range l.Suites {
		if s.Name == name {
			return s, true
		}
	}
	return LockedSuite{}, false
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
	l, err := ParseLock(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// ParseLock decodes a lock strictly (an unknown field is an error) and checks it.
func ParseLock(data []byte) (*Lock, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the lock object")
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return &l, nil
}

func (l *Lock) check() error {
	var problems []string
	if l.Suite == "" || l.Architecture == "" {
		problems = append(problems, "suite and architecture are required")
	}
	suites := map[string]bool{}
	for i, s := range l.Suites {
		switch {
		case s.Name == "" || strings.ContainsAny(s.Name, "/\\") || strings.Contains(s.Name, ".."):
			problems = append(problems, fmt.Sprintf("suites[%d]: invalid name %q", i, s.Name))
		case s.Archive != ArchiveOf(s.Name):
			problems = append(problems, fmt.Sprintf("suite %s: archive %q, want %q", s.Name, s.Archive, ArchiveOf(s.Name)))
		case suites[s.Name]:
			problems = append(problems, fmt.Sprintf("suite %s: locked twice", s.Name))
		case !hexDigest(s.Release.SHA256) || !hexDigest(s.Index.SHA256) || checkRelPath(s.Index.Path) != nil:
			problems = append(problems, fmt.Sprintf("suite %s: release and index need a sha256, the index a path", s.Name))
		}
		if s.Release.Date != "" {
			if _, err := time.Parse(time.RFC3339, s.Release.Date); err != nil {
				problems = append(problems, fmt.Sprintf("suite %s: release date %q is not RFC 3339", s.Name, s.Release.Date))
			}
		}
		suites[s.Name] = true
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
		case !suites[p.Suite]:
			problems = append(problems, fmt.Sprintf("package %s: suite %q is not among the locked suites", p.Name, p.Suite))
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
	c.Suites = append([]LockedSuite(nil), l.Suites...)
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
	if c.Suites == nil {
		c.Suites = []LockedSuite{}
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

// ArchiveOptions say what OpenArchive reads and how it judges it.
type ArchiveOptions struct {
	Release string   // the release followed, e.g. "trixie"
	Suites  []string // default FollowedSuites(Release)
	Arch    string
	Keyring []byte    // OpenPGP keys (binary or armored) every InRelease must be signed by
	Now     time.Time // to check signatures and Valid-Until
	// Previous is the lock being replaced, if any: a suite's InRelease dated before the one it
	// recorded is refused (RollbackError).
	Previous *Lock
}

// LockPackages resolves requests against the current archive (OpenArchive, then Pin).
func LockPackages(ctx context.Context, f *Fetcher, o ArchiveOptions, requests []Request) (*Lock, error) {
	lock, ix, err := OpenArchive(ctx, f, o)
	if err != nil {
		return nil, err
	}
	if err := lock.Pin(ix, requests); err != nil {
		return nil, err
	}
	return lock, nil
}

// RollbackError says a suite's InRelease is older than the one the current lock recorded: the
// mirror is behind, or replays an old, validly signed release to hold back security fixes.
type RollbackError struct {
	Suite        string
	Got, Locked  time.Time
	LockedSHA256 string
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("suite %s: the mirror's InRelease is dated %s, older than the %s recorded in the lock: "+
		"the mirror is out of date or replays an old release (a rollback); lock from an up-to-date mirror",
		e.Suite, e.Got.UTC().Format(time.RFC3339), e.Locked.UTC().Format(time.RFC3339))
}

// OpenArchive fetches and verifies each suite's InRelease with the keyring (at o.Now), refuses one
// older than o.Previous recorded (RollbackError) or past its Valid-Until (ErrExpired), and fetches
// each suite's main Packages index for o.Arch by the digest it gives. It returns a lock with no
// packages yet, recording every suite, and one index holding every suite's packages (each tagged
// with its suite), where Lookup gives the highest version by Debian's ordering.
func OpenArchive(ctx context.Context, f *Fetcher, o ArchiveOptions) (*Lock, *Index, error) {
	suites := o.Suites
	if len(suites) == 0 {
		suites = FollowedSuites(o.Release)
	}
	lock := &Lock{Suite: o.Release, Architecture: o.Arch, Components: []string{LockComponent}}
	var all []Package
	for _, suite := range suites {
		s, ix, err := openSuite(ctx, f, suite, o)
		if err != nil {
			return nil, nil, err
		}
		lock.Suites = append(lock.Suites, s)
		all = append(all, ix.all()...)
	}
	return lock, NewIndex(all), nil
}

func openSuite(ctx context.Context, f *Fetcher, suite string, o ArchiveOptions) (LockedSuite, *Index, error) {
	data, err := f.FetchRelease(ctx, suite)
	if err != nil {
		return LockedSuite{}, nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	rel, err := VerifyInRelease(data, bytes.NewReader(o.Keyring), o.Now)
	if errors.Is(err, ErrExpired) {
		return LockedSuite{}, nil, fmt.Errorf("suite %s: %w: the mirror has stopped updating it (or this machine's clock is wrong); lock from an up-to-date mirror", suite, err)
	}
	if err != nil {
		return LockedSuite{}, nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	if rel.Codename != suite && rel.Suite != suite {
		return LockedSuite{}, nil, fmt.Errorf("asked for suite %s, the archive's InRelease is for %s (%s)", suite, rel.Codename, rel.Suite)
	}
	sum := sha256.Sum256(data)
	if o.Previous != nil {
		if prev, ok := o.Previous.SuiteEntry(suite); ok && prev.Release.Date != "" {
			locked, err := time.Parse(time.RFC3339, prev.Release.Date)
			if err != nil {
				return LockedSuite{}, nil, fmt.Errorf("suite %s: the lock's release date: %w", suite, err)
			}
			if rel.Date.Before(locked) {
				return LockedSuite{}, nil, &RollbackError{Suite: suite, Got: rel.Date, Locked: locked, LockedSHA256: prev.Release.SHA256}
			}
		}
	}
	ix, err := f.FetchIndex(ctx, rel, LockComponent, o.Arch)
	if err != nil {
		return LockedSuite{}, nil, fmt.Errorf("suite %s: %w", suite, err)
	}
	return LockedSuite{
		Name:    suite,
		Archive: ArchiveOf(suite),
		Release: LockedFile{
			Path:   "dists/" + suite + "/InRelease",
			Size:   int64(len(data)),
			SHA256: hex.EncodeToString(sum[:]),
			Date:   rel.Date.UTC().Format(time.RFC3339),
		},
		Index: ix.File,
	}, ix, nil
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
	suite, arch := l.Suite, l.Architecture // for messages: the release followed
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
		l.Packages = append(l.Packages, p.Locked(requested))
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
