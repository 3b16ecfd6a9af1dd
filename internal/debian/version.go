package debian

import (
	"fmt"
	"strings"
)

// CompareVersions orders two Debian versions [epoch:]upstream[-revision] the way dpkg does
// (Debian Policy §5.6.12, dpkg's verrevcmp): epochs numerically, then upstream and revision by
// alternating non-digit runs (letters before other characters, '~' before everything, even the
// end of the string) and digit runs compared numerically. It returns -1, 0 or +1. Malformed
// input is compared by the same rules rather than refused, so the order stays total.
func CompareVersions(a, b string) int {
	ea, ua, ra := splitVersion(a)
	eb, ub, rb := splitVersion(b)
	if c := verrevcmp(ea, eb); c != 0 {
		return c
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

// splitVersion splits at the first ':' (epoch) and the last '-' (Debian revision).
func splitVersion(v string) (epoch, upstream, revision string) {
	v = strings.TrimSpace(v)
	if e, rest, ok := strings.Cut(v, ":"); ok {
		epoch, v = e, rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// order is dpkg's character weight; 0 stands for "end of string" and digits.
func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := order(a, i), order(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// Relation is one package of a Depends-style field: name[:arch] [(op version)] [[archs]] [<profiles>]
// (Debian Policy §7.1).
type Relation struct {
	Name     string
	Arch     string   // the qualifier after ':', e.g. "any"; "" if none
	Op       string   // "<<", "<=", "=", ">=", ">>", or "" when unversioned
	Version  string   // with Op
	Archs    []string // architecture restriction, e.g. ["amd64"] or ["!i386"]
	Profiles []string // build-profile formulas, each the text inside one <...>
}

// String writes the relation back in control-file syntax.
func (r Relation) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if r.Arch != "" {
		b.WriteString(":" + r.Arch)
	}
	if r.Op != "" {
		fmt.Fprintf(&b, " (%s %s)", r.Op, r.Version)
	}
	if len(r.Archs) > 0 {
		b.WriteString(" [" + strings.Join(r.Archs, " ") + "]")
	}
	for _, p := range r.Profiles {
		b.WriteString(" <" + p + ">")
	}
	return b.String()
}

// SatisfiedBy reports whether a package at version satisfies the relation's version constraint.
func (r Relation) SatisfiedBy(version string) bool {
	c := CompareVersions(version, r.Version)
	switch r.Op {
	case "":
		return true
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// ParseRelations parses a Depends-style field: a comma-separated list of groups, each a
// '|'-separated list of alternatives (Debian Policy §7.1). An empty field gives nil.
func ParseRelations(s string) ([][]Relation, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out [][]Relation
	for gi, group := range strings.Split(s, ",") {
		var alts []Relation
		for _, alt := range strings.Split(group, "|") {
			r, err := parseRelation(alt)
			if err != nil {
				return nil, fmt.Errorf("relation %d %q: %w", gi+1, truncate(strings.TrimSpace(alt), 80), err)
			}
			alts = append(alts, r)
		}
		out = append(out, alts)
	}
	return out, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func parseRelation(s string) (Relation, error) {
	var r Relation
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	skip()
	start := i
	for i < len(s) && !isSpace(s[i]) && !strings.ContainsRune("():[]<>", rune(s[i])) {
		i++
	}
	r.Name = s[start:i]
	if r.Name == "" {
		return r, fmt.Errorf("missing package name")
	}
	if !validName(r.Name) {
		return r, fmt.Errorf("invalid package name %q", r.Name)
	}
	if i < len(s) && s[i] == ':' {
		i++
		start = i
		for i < len(s) && (isAlpha(s[i]) || isDigit(s[i]) || s[i] == '-') {
			i++
		}
		r.Arch = s[start:i]
		if r.Arch == "" {
			return r, fmt.Errorf("empty architecture qualifier")
		}
	}
	skip()
	if i < len(s) && s[i] == '(' {
		i++
		skip()
		start = i
		for i < len(s) && strings.ContainsRune("<>=", rune(s[i])) {
			i++
		}
		switch op := s[start:i]; op {
		case "<<", "<=", "=", ">=", ">>":
			r.Op = op
		case "<": // obsolete spellings, which dpkg reads as <= and >= (Policy §7.1)
			r.Op = "<="
		case ">":
			r.Op = ">="
		default:
			return r, fmt.Errorf("invalid version operator %q", op)
		}
		skip()
		start = i
		for i < len(s) && !isSpace(s[i]) && s[i] != ')' {
			i++
		}
		r.Version = s[start:i]
		if r.Version == "" {
			return r, fmt.Errorf("missing version after %q", r.Op)
		}
		if !validVersionChars(r.Version) {
			return r, fmt.Errorf("invalid version %q", r.Version)
		}
		skip()
		if i >= len(s) || s[i] != ')' {
			return r, fmt.Errorf("missing ')'")
		}
		i++
		skip()
	}
	if i < len(s) && s[i] == '[' {
		end := strings.IndexByte(s[i:], ']')
		if end < 0 {
			return r, fmt.Errorf("missing ']'")
		}
		r.Archs = strings.Fields(s[i+1 : i+end])
		if len(r.Archs) == 0 {
			return r, fmt.Errorf("empty architecture list")
		}
		for _, a := range r.Archs {
			if strings.ContainsAny(a, "[]<>()|,") || a == "!" {
				return r, fmt.Errorf("invalid architecture %q", a)
			}
		}
		i += end + 1
		skip()
	}
	for i < len(s) && s[i] == '<' {
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			return r, fmt.Errorf("missing '>'")
		}
		p := strings.Join(strings.Fields(s[i+1:i+end]), " ")
		if p == "" || strings.ContainsAny(p, "[]<()|,") {
			return r, fmt.Errorf("invalid build profile %q", p)
		}
		r.Profiles = append(r.Profiles, p)
		i += end + 1
		skip()
	}
	if i != len(s) {
		return r, fmt.Errorf("unexpected %q", truncate(s[i:], 20))
	}
	return r, nil
}

// validName checks the package-name alphabet (Policy §5.6.1: [a-z0-9][a-z0-9+.-]*); upper case is
// tolerated since some old indices have it.
func validName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(isAlpha(c) || isDigit(c) || (i > 0 && (c == '+' || c == '-' || c == '.'))) {
			return false
		}
	}
	return true
}

// validVersionChars checks the version alphabet (Policy §5.6.12).
func validVersionChars(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isAlpha(c) || isDigit(c) || strings.IndexByte(".+-~:", c) >= 0) {
			return false
		}
	}
	return true
}
