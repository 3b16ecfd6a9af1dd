package accounts

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParseSysusers reads a sysusers.d(5) file, the data form of what maintainer scripts do with
// adduser (trixie's openssh-server ships usr/lib/sysusers.d/openssh-server.conf:
// `u sshd -:nogroup "sshd user" /run/sshd`). It understands u, g and m lines; r (ranges) is
// ignored since Build assigns from Debian's system range. IDs given as paths are refused.
func ParseSysusers(data []byte) (SystemAccounts, error) {
	var sys SystemAccounts
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	members := map[string][]string{}
	var order []string
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f, err := splitQuoted(text)
		if err != nil {
			return sys, fmt.Errorf("line %d: %w", line, err)
		}
		for len(f) < 6 {
			f = append(f, "-")
		}
		dash := func(s string) string {
			if s == "-" {
				return ""
			}
			return s
		}
		typ, name, id := f[0], f[1], dash(f[2])
		switch strings.TrimSuffix(typ, "!") {
		case "u":
			u := SystemUser{Name: name, Comment: dash(f[3]), Home: dash(f[4]), Shell: dash(f[5])}
			uid, gid, hasGroup := strings.Cut(id, ":")
			if uid = dash(uid); uid != "" {
				if u.UID, err = parseID(uid); err != nil {
					return sys, fmt.Errorf("line %d: user %s: %w", line, name, err)
				}
			}
			if hasGroup {
				if _, err := strconv.Atoi(gid); err == nil {
					return sys, fmt.Errorf("line %d: user %s: numeric group %s: name the group instead", line, name, gid)
				}
				u.Group = gid
			}
			sys.Users = append(sys.Users, u)
		case "g":
			g := Group{Name: name}
			if id != "" {
				if g.GID, err = parseID(id); err != nil {
					return sys, fmt.Errorf("line %d: group %s: %w", line, name, err)
				}
			}
			sys.Groups = append(sys.Groups, g)
		case "m":
			if _, ok := members[f[2]]; !ok {
				order = append(order, f[2])
			}
			members[f[2]] = append(members[f[2]], name)
		case "r":
		default:
			return sys, fmt.Errorf("line %d: unknown type %q", line, typ)
		}
	}
	for _, gname := range order {
		found := false
		for i := range sys.Groups {
			if sys.Groups[i].Name == gname {
				sys.Groups[i].Members = append(sys.Groups[i].Members, members[gname]...)
				found = true
			}
		}
		if !found { // sysusers.d creates the group of an m line when missing
			sys.Groups = append(sys.Groups, Group{Name: gname, Members: members[gname]})
		}
	}
	return sys, sc.Err()
}

// Merge appends other's users and groups to s (e.g. the sysusers.d files of several packages).
func (s SystemAccounts) Merge(other SystemAccounts) SystemAccounts {
	return SystemAccounts{Users: append(append([]SystemUser(nil), s.Users...), other.Users...), Groups: append(append([]Group(nil), s.Groups...), other.Groups...)}
}

func parseID(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("unsupported id %q (a number above 0 is needed)", s)
	}
	return n, nil
}

// splitQuoted splits on spaces, honouring double quotes (sysusers.d's GECOS field).
func splitQuoted(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			in, have = !in, true
		case (c == ' ' || c == '\t') && !in:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote")
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}
