package debian

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Mirror is a Debian archive root (the folder holding dists/ and pool/) and where we learned it.
type Mirror struct {
	URL  string // without a trailing slash
	From string // "--mirror", "GENAI_BUILD_MIRROR", or the apt sources file it came from
}

// Archive is one of Debian's two archives. The main one serves a release and its -updates suite;
// the security one serves <codename>-security from a root of its own (another path, often another
// host).
type Archive string

const (
	ArchiveMain     Archive = "debian"
	ArchiveSecurity Archive = "debian-security"
)

// ArchiveOf says which archive serves suite: <codename>-security is the security archive's (its
// name since bullseye), every other suite the main archive's.
func ArchiveOf(suite string) Archive {
	if strings.HasSuffix(suite, "-security") {
		return ArchiveSecurity
	}
	return ArchiveMain
}

// MirrorEnv is the environment variable that names the mirror when --mirror is not given.
const MirrorEnv = "GENAI_BUILD_MIRROR"

// ErrNoMirror is returned by ResolveMirror when neither the flag, the environment nor the host's
// apt sources name a Debian mirror.
var ErrNoMirror = errors.New("no Debian mirror configured: pass --mirror URL or set " + MirrorEnv)

// ResolveMirror picks the mirror: the flag, else $GENAI_BUILD_MIRROR, else the first Debian entry
// of the host's apt sources under aptRoot (normally "/"): etc/apt/sources.list, then
// etc/apt/sources.list.d/*.list and *.sources in name order, as apt reads them.
func ResolveMirror(flag string, getenv func(string) string, aptRoot string) (Mirror, error) {
	return resolve(flag, "--mirror", MirrorEnv, getenv, aptRoot, debianEntry, ErrNoMirror)
}

// SecurityMirrorEnv is the environment variable that names the security archive's root when
// --security-mirror is not given.
const SecurityMirrorEnv = "GENAI_BUILD_SECURITY_MIRROR"

// ErrNoSecurityMirror is returned by ResolveSecurityMirror when neither the flag, the environment
// nor the host's apt sources name Debian's security archive.
var ErrNoSecurityMirror = errors.New("no Debian security mirror configured: pass --security-mirror URL or set " + SecurityMirrorEnv)

// ResolveSecurityMirror picks the root of Debian's security archive (the folder holding
// dists/<codename>-security/), which lives at a URI of its own: the flag, else
// $GENAI_BUILD_SECURITY_MIRROR, else the first apt source entry of a *-security suite (only its
// URI counts: the host may run another release).
func ResolveSecurityMirror(flag string, getenv func(string) string, aptRoot string) (Mirror, error) {
	return resolve(flag, "--security-mirror", SecurityMirrorEnv, getenv, aptRoot, securityEntry, ErrNoSecurityMirror)
}

// MirrorFor returns the mirror serving archive a.
func (f *Fetcher) MirrorFor(a Archive) (Mirror, error) {
	if a == ArchiveSecurity {
		if f.Security.URL == "" {
			return Mirror{}, ErrNoSecurityMirror
		}
		return f.Security, nil
	}
	if f.Mirror.URL == "" {
		return Mirror{}, ErrNoMirror
	}
	return f.Mirror, nil
}

// entryMatch says whether an apt entry (URI, suites, Signed-By) is the archive looked for.
type entryMatch func(uri string, suites []string, signedBy string) bool

func resolve(flag, flagName, env string, getenv func(string) string, aptRoot string, match entryMatch, none error) (Mirror, error) {
	if flag != "" {
		return checkMirror(flag, flagName)
	}
	if v := getenv(env); v != "" {
		return checkMirror(v, env)
	}
	if aptRoot == "" {
		return Mirror{}, none
	}
	files := []string{filepath.Join(aptRoot, "etc/apt/sources.list")}
	dir := filepath.Join(aptRoot, "etc/apt/sources.list.d")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Mirror{}, fmt.Errorf("reading %s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".list") || strings.HasSuffix(e.Name(), ".sources")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, filepath.Join(dir, n))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Mirror{}, fmt.Errorf("reading %s: %w", f, err)
		}
		var uri string
		if strings.HasSuffix(f, ".sources") {
			uri = fromDeb822Sources(string(data), match)
		} else {
			uri = fromOneLineSources(string(data), match)
		}
		if uri != "" {
			return Mirror{URL: strings.TrimRight(uri, "/"), From: f}, nil
		}
	}
	return Mirror{}, none
}

func checkMirror(raw, from string) (Mirror, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Mirror{}, fmt.Errorf("mirror %q from %s: want an http:// or https:// URL of the archive root", raw, from)
	}
	return Mirror{URL: strings.TrimRight(raw, "/"), From: from}, nil
}

// plainSuite matches a codename or a symbolic suite with no -updates/-security/-backports part.
var plainSuite = regexp.MustCompile(`^[a-z]+$`)

// debianEntry says whether an apt entry points at the main Debian archive.
func debianEntry(uri string, suites []string, signedBy string) bool {
	if !debianURI(uri, "/debian", signedBy) {
		return false
	}
	for _, s := range suites {
		if plainSuite.MatchString(s) && s != "experimental" {
			return true
		}
	}
	return false
}

// securityEntry says whether an apt entry points at Debian's security archive: a suite named
// <codename>-security (Debian's name for it since bullseye).
func securityEntry(uri string, suites []string, signedBy string) bool {
	if !debianURI(uri, "/debian-security", signedBy) {
		return false
	}
	for _, s := range suites {
		if c, ok := strings.CutSuffix(s, "-security"); ok && plainSuite.MatchString(c) {
			return true
		}
	}
	return false
}

// debianURI says whether uri is an http(s) URI of a Debian archive: its path ends in pathSuffix,
// or the entry is signed by Debian's archive keyring.
func debianURI(uri, pathSuffix, signedBy string) bool {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.HasSuffix(strings.TrimRight(u.Path, "/"), pathSuffix) ||
		strings.Contains(signedBy, "debian-archive-keyring")
}

// fromOneLineSources reads sources.list(5) one-line style:
// deb [ opt=value ... ] uri suite [component ...]
func fromOneLineSources(text string, match entryMatch) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		signedBy := ""
		if strings.HasPrefix(f[0], "[") {
			// Options may be "[a=b c=d]" or "[ a=b ]": gather up to the closing bracket.
			var opts []string
			for len(f) > 0 {
				w := f[0]
				f = f[1:]
				end := strings.HasSuffix(w, "]")
				w = strings.Trim(w, "[]")
				if w != "" {
					opts = append(opts, w)
				}
				if end {
					break
				}
			}
			for _, o := range opts {
				if k, v, ok := strings.Cut(o, "="); ok && strings.EqualFold(k, "signed-by") {
					signedBy = v
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		if match(f[0], f[1:2], signedBy) {
			return f[0]
		}
	}
	return ""
}

// fromDeb822Sources reads sources.list(5) deb822 style: Types, URIs, Suites, Signed-By, Enabled.
func fromDeb822Sources(text string, match entryMatch) string {
	paras, err := ParseControl(strings.NewReader(text))
	if err != nil {
		return ""
	}
	for _, p := range paras {
		if strings.EqualFold(strings.TrimSpace(p.Get("Enabled")), "no") {
			continue
		}
		if !contains(strings.Fields(p.Get("Types")), "deb") {
			continue
		}
		suites := strings.Fields(p.Get("Suites"))
		for _, uri := range strings.Fields(p.Get("URIs")) {
			if match(uri, suites, p.Get("Signed-By")) {
				return uri
			}
		}
	}
	return ""
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
