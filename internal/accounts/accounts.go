// Package accounts generates an image's /etc/passwd, /etc/group and /etc/shadow from the users the
// edition declares and the system users its packages need, deterministically: the same inputs give
// the same bytes, and no image ships a known or empty password.
package accounts

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Debian Policy §9.2.2 (UID and GID classes).
const (
	systemMin  = 100   // 100-999: dynamically allocated system users and groups
	systemMax  = 999   //
	userMin    = 1000  // 1000-59999: dynamically allocated user accounts
	userMax    = 59999 //
	nobodyID   = 65534 // nobody / nogroup
	dynUserMin = 65536 // 65536-4294967293: dynamically allocated user accounts
	dynUserMax = 4294967293
)

// Password field values (shadow(5)). "*" can never match a hash but leaves the account usable with
// other authentication (sshd accepts keys); "!" marks the account locked, and sshd refuses even
// keys for it when it runs without PAM (OpenSSH's LOCKED_PASSWD_PREFIX on Linux).
const (
	NoPassword = "*"
	Locked     = "!"
)

// User is an account the edition declares.
type User struct {
	Name    string
	UID     int // 0 only for root
	GID     int // primary group; 0 (for non-root) means a group named like the user, GID = UID
	Comment string
	Home    string // default /home/<name>, /root for root
	Shell   string // default /bin/sh
	Groups  []string
	// PasswordHash is a crypt(3) hash ("$y$...", "$6$..."); "" means no password login.
	PasswordHash string
	// Locked locks the account entirely ("!" in shadow), keys or not.
	Locked         bool
	AuthorizedKeys []string // lines of ~/.ssh/authorized_keys
}

// SystemUser is an account a package needs (what its postinst or sysusers.d file would create).
type SystemUser struct {
	Name    string
	UID     int    // 0: assigned from 100-999 in name order
	Group   string // primary group; "" means a group named like the user
	Comment string
	Home    string // default /nonexistent
	Shell   string // default /usr/sbin/nologin
}

// Group is a group a package or the edition needs.
type Group struct {
	Name    string
	GID     int // 0: assigned from 100-999 in name order
	Members []string
}

// SystemAccounts are the accounts packages need.
type SystemAccounts struct {
	Users  []SystemUser
	Groups []Group
}

// KeyFile is one ~/.ssh/authorized_keys to put into the image.
type KeyFile struct {
	Path     string // relative to the root, e.g. "root/.ssh/authorized_keys"
	Data     []byte
	UID, GID int
}

// Home is a user's home folder.
type Home struct {
	Path     string // relative to the root, e.g. "home/dev"
	UID, GID int
}

// Accounts is the generated account database.
type Accounts struct {
	Passwd, Group, Shadow []byte
	Keys                  []KeyFile // sorted by path
	// Homes are the declared users' home folders other than root's (/root is the image's own),
	// owned by their user: what adduser makes.
	Homes []Home // sorted by path
	// LockedUsers names the declared users that have neither a password hash nor keys, and are
	// therefore locked: the caller reports them.
	LockedUsers []string
}

// Generate returns /etc/passwd, /etc/group and /etc/shadow for sys and users; see Build for the
// authorized keys and the locked-user report.
func Generate(sys SystemAccounts, users []User) (passwd, group, shadow []byte, err error) {
	a, err := Build(sys, users)
	if err != nil {
		return nil, nil, nil, err
	}
	return a.Passwd, a.Group, a.Shadow, nil
}

// validName is the name rule of Debian's adduser (NAME_REGEX, plus the '_' start systemd allows),
// at most 32 characters (useradd's limit).
var validName = regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`)

// validHash accepts crypt(3) hashes in modular format ("$id$...") and nothing else: no empty
// hash, no DES, no plain text.
var validHash = regexp.MustCompile(`^\$[0-9a-z]+\$[./0-9A-Za-z$=,]+$`)

type account struct {
	name, comment, home, shell, password string
	uid, gid                             int
}

type group struct {
	name    string
	gid     int
	members []string
}

// Build generates the account database. root (uid 0) and nobody/nogroup (65534, Debian's
// base-passwd) are always present; root's password is "*" unless the edition gives root a hash.
// System users and groups without a fixed id are given the lowest free id from 100 in name order.
// Every problem is reported, joined.
func Build(sys SystemAccounts, users []User) (*Accounts, error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	accts := map[string]*account{
		"root":   {name: "root", comment: "root", home: "/root", shell: "/bin/sh", password: NoPassword, uid: 0, gid: 0},
		"nobody": {name: "nobody", comment: "nobody", home: "/nonexistent", shell: "/usr/sbin/nologin", password: NoPassword, uid: nobodyID, gid: nobodyID},
	}
	groups := map[string]*group{
		"root":    {name: "root", gid: 0},
		"nogroup": {name: "nogroup", gid: nobodyID},
	}
	usedUID := map[int]string{0: "root", nobodyID: "nobody"}
	usedGID := map[int]string{0: "root", nobodyID: "nogroup"}
	res := &Accounts{}

	// Fixed groups first, so that users can name them.
	var dynGroups []Group
	for _, g := range sys.Groups {
		switch {
		case !nameOK(g.Name):
			fail("group %q: invalid name", g.Name)
		case groups[g.Name] != nil:
			fail("group %s: declared twice or reserved", g.Name)
		case g.GID == 0:
			dynGroups = append(dynGroups, g)
			groups[g.Name] = &group{name: g.Name, gid: -1, members: slices.Clone(g.Members)}
		case g.GID < 0 || g.GID == nobodyID || g.GID > dynUserMax:
			fail("group %s: gid %d is reserved or out of range", g.Name, g.GID)
		case usedGID[g.GID] != "":
			fail("group %s: gid %d already belongs to %s", g.Name, g.GID, usedGID[g.GID])
		default:
			groups[g.Name] = &group{name: g.Name, gid: g.GID, members: slices.Clone(g.Members)}
			usedGID[g.GID] = g.Name
		}
	}

	// Declared users.
	type pending struct {
		u        User
		keysHome string
	}
	var declared []pending
	for _, u := range users {
		if !nameOK(u.Name) {
			fail("user %q: invalid name", u.Name)
			continue
		}
		a := &account{name: u.Name, comment: u.Comment, home: u.Home, shell: u.Shell, uid: u.UID, gid: u.GID}
		if u.Name == "root" {
			if u.UID != 0 || u.GID != 0 {
				fail("user root: uid and gid must be 0")
				continue
			}
			a = accts["root"]
			if u.Home != "" {
				a.home = u.Home
			}
			if u.Shell != "" {
				a.shell = u.Shell
			}
			if u.Comment != "" {
				a.comment = u.Comment
			}
		} else {
			switch {
			case accts[u.Name] != nil:
				fail("user %s: declared twice or reserved", u.Name)
				continue
			case u.UID == 0:
				fail("user %s: uid 0 is root's", u.Name)
				continue
			case !userID(u.UID):
				fail("user %s: uid %d is reserved (Debian Policy 9.2.2: users get 1000-59999 or 65536 and above)", u.Name, u.UID)
				continue
			case usedUID[u.UID] != "":
				fail("user %s: uid %d already belongs to %s", u.Name, u.UID, usedUID[u.UID])
				continue
			}
			if a.home == "" {
				a.home = "/home/" + u.Name
			}
			if a.shell == "" {
				a.shell = "/bin/sh"
			}
			if u.GID == 0 {
				a.gid = u.UID
				if g := groups[u.Name]; g != nil {
					fail("user %s: a group of that name already exists", u.Name)
					continue
				}
				if usedGID[a.gid] != "" {
					fail("user %s: gid %d (its own group) already belongs to %s", u.Name, a.gid, usedGID[a.gid])
					continue
				}
				groups[u.Name] = &group{name: u.Name, gid: a.gid}
				usedGID[a.gid] = u.Name
			} else if usedGID[u.GID] == "" {
				fail("user %s: no group has gid %d", u.Name, u.GID)
				continue
			}
			accts[u.Name] = a
			usedUID[a.uid] = u.Name
		}
		if !path.IsAbs(a.home) || !path.IsAbs(a.shell) || strings.ContainsAny(a.home+a.shell+a.comment, ":\n") {
			fail("user %s: home and shell must be absolute paths, and no field may hold ':' or a newline", u.Name)
			continue
		}
		switch {
		case u.PasswordHash != "" && !validHash.MatchString(u.PasswordHash):
			fail("user %s: password hash is not a crypt(3) hash ($id$...)", u.Name)
			continue
		case u.Locked:
			a.password = Locked + u.PasswordHash
		case u.PasswordHash != "":
			a.password = u.PasswordHash
		case len(u.AuthorizedKeys) > 0:
			a.password = NoPassword
		case u.Name == "root":
			a.password = NoPassword
			res.LockedUsers = append(res.LockedUsers, u.Name)
		default:
			a.password = Locked
			res.LockedUsers = append(res.LockedUsers, u.Name)
		}
		for _, k := range u.AuthorizedKeys {
			if strings.ContainsAny(k, "\n\r") || strings.TrimSpace(k) == "" {
				fail("user %s: an authorized key is empty or spans lines", u.Name)
			}
		}
		declared = append(declared, pending{u: u, keysHome: a.home})
	}

	// System users, then groups without an id, from the system range in name order.
	sysUsers := slices.Clone(sys.Users)
	sort.Slice(sysUsers, func(i, j int) bool { return sysUsers[i].Name < sysUsers[j].Name })
	next := func(used map[int]string) int {
		for id := systemMin; id <= systemMax; id++ {
			if used[id] == "" {
				return id
			}
		}
		return -1
	}
	for _, su := range sysUsers {
		switch {
		case !nameOK(su.Name):
			fail("system user %q: invalid name", su.Name)
			continue
		case accts[su.Name] != nil:
			fail("system user %s: also declared as a user or reserved", su.Name)
			continue
		}
		uid := su.UID
		if uid == 0 {
			if uid = next(usedUID); uid < 0 {
				fail("system user %s: no free uid in %d-%d", su.Name, systemMin, systemMax)
				continue
			}
		} else if usedUID[uid] != "" {
			fail("system user %s: uid %d already belongs to %s", su.Name, uid, usedUID[uid])
			continue
		}
		a := &account{name: su.Name, comment: su.Comment, home: su.Home, shell: su.Shell, uid: uid, password: Locked}
		if a.home == "" {
			a.home = "/nonexistent"
		}
		if a.shell == "" {
			a.shell = "/usr/sbin/nologin"
		}
		if strings.ContainsAny(a.home+a.shell+a.comment, ":\n") {
			fail("system user %s: no field may hold ':' or a newline", su.Name)
			continue
		}
		gname := su.Group
		if gname == "" {
			gname = su.Name
			if groups[gname] == nil {
				gid := uid
				if usedGID[gid] != "" {
					gid = next(usedGID)
				}
				if gid < 0 {
					fail("system user %s: no free gid", su.Name)
					continue
				}
				groups[gname] = &group{name: gname, gid: gid}
				usedGID[gid] = gname
			}
		}
		g := groups[gname]
		if g == nil {
			fail("system user %s: no group %s", su.Name, gname)
			continue
		}
		if g.gid < 0 { // a dynamic group named by a user gets its id now
			g.gid = next(usedGID)
			usedGID[g.gid] = g.name
		}
		a.gid = g.gid
		accts[su.Name] = a
		usedUID[uid] = su.Name
	}
	sort.Slice(dynGroups, func(i, j int) bool { return dynGroups[i].Name < dynGroups[j].Name })
	for _, dg := range dynGroups {
		g := groups[dg.Name]
		if g.gid >= 0 {
			continue
		}
		if g.gid = next(usedGID); g.gid < 0 {
			fail("group %s: no free gid in %d-%d", dg.Name, systemMin, systemMax)
			continue
		}
		usedGID[g.gid] = g.name
	}

	// Supplementary groups and keys.
	for _, p := range declared {
		for _, gn := range p.u.Groups {
			g := groups[gn]
			if g == nil {
				fail("user %s: no group %s", p.u.Name, gn)
				continue
			}
			if !slices.Contains(g.members, p.u.Name) {
				g.members = append(g.members, p.u.Name)
			}
		}
		if p.u.Name != "root" {
			a := accts[p.u.Name]
			res.Homes = append(res.Homes, Home{Path: strings.TrimPrefix(p.keysHome, "/"), UID: a.uid, GID: a.gid})
		}
		if len(p.u.AuthorizedKeys) > 0 {
			a := accts[p.u.Name]
			var b bytes.Buffer
			for _, k := range p.u.AuthorizedKeys {
				b.WriteString(strings.TrimSpace(k) + "\n")
			}
			res.Keys = append(res.Keys, KeyFile{Path: strings.TrimPrefix(path.Join(p.keysHome, ".ssh", "authorized_keys"), "/"), Data: b.Bytes(), UID: a.uid, GID: a.gid})
		}
	}
	for _, g := range groups {
		for _, m := range g.members {
			if accts[m] == nil {
				fail("group %s: member %s is no user", g.name, m)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Write, ordered by id (root first, nobody last), as base-passwd's files are.
	list := make([]*account, 0, len(accts))
	for _, a := range accts {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].uid < list[j].uid })
	var pw, sh, gr bytes.Buffer
	for _, a := range list {
		fmt.Fprintf(&pw, "%s:x:%d:%d:%s:%s:%s\n", a.name, a.uid, a.gid, a.comment, a.home, a.shell)
		// shadow(5): name:password:lastchg:min:max:warn:inactive:expire:reserved. lastchg is left
		// empty (no ageing) so that no build date ends up in the image.
		fmt.Fprintf(&sh, "%s:%s::0:99999:7:::\n", a.name, a.password)
	}
	glist := make([]*group, 0, len(groups))
	for _, g := range groups {
		glist = append(glist, g)
	}
	sort.Slice(glist, func(i, j int) bool { return glist[i].gid < glist[j].gid })
	for _, g := range glist {
		m := slices.Clone(g.members)
		sort.Strings(m)
		fmt.Fprintf(&gr, "%s:x:%d:%s\n", g.name, g.gid, strings.Join(m, ","))
	}
	sort.Slice(res.Keys, func(i, j int) bool { return res.Keys[i].Path < res.Keys[j].Path })
	sort.Slice(res.Homes, func(i, j int) bool { return res.Homes[i].Path < res.Homes[j].Path })
	sort.Strings(res.LockedUsers)
	res.Passwd, res.Group, res.Shadow = pw.Bytes(), gr.Bytes(), sh.Bytes()
	return res, nil
}

func nameOK(n string) bool { return len(n) <= 32 && validName.MatchString(n) }

func userID(id int) bool {
	return id >= userMin && id <= userMax || id >= dynUserMin && id <= dynUserMax
}
