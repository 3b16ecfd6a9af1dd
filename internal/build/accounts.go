package build

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/genai-os/genai-build/internal/accounts"
	"github.com/genai-os/genai-build/internal/fstree"
)

// addAccounts writes /etc/passwd, /etc/group and /etc/shadow from the edition's users, root's keys
// from the command line and the system users the packages declare in sysusers.d, and each user's
// authorized_keys.
func (s *state) addAccounts(t *fstree.Tree, sysusers [][]byte) error {
	var sys accounts.SystemAccounts
	for _, data := range sysusers {
		a, err := accounts.ParseSysusers(data)
		if err != nil {
			return fmt.Errorf("sysusers.d: %w", err)
		}
		sys = sys.Merge(a)
	}
	var users []accounts.User
	hasRoot := false
	for _, u := range s.ed.Users {
		au := accounts.User{Name: u.Name, UID: u.UID, GID: u.GID, Comment: u.Comment, Home: u.Home, Shell: u.Shell,
			Groups: u.Groups, PasswordHash: u.PasswordHash, Locked: u.Locked, AuthorizedKeys: u.SSHKeys}
		if u.Name == "root" || u.CommandLineKeys {
			au.AuthorizedKeys = append(append([]string{}, u.SSHKeys...), s.opts.SSHKeys...)
		}
		if u.Name == "root" {
			hasRoot = true
		}
		users = append(users, au)
	}
	if !hasRoot {
		users = append([]accounts.User{{Name: "root", Shell: "/bin/gosh", AuthorizedKeys: s.opts.SSHKeys}}, users...)
	}
	a, err := accounts.Build(sys, users)
	if err != nil {
		return fmt.Errorf("%s: users: %w", s.ed.Source, err)
	}
	if len(a.LockedUsers) > 0 {
		s.prog.Note("accounts with neither a password nor a key, locked: " + strings.Join(a.LockedUsers, ", "))
	}
	gen := "generated:accounts"
	for _, f := range []struct {
		p    string
		data []byte
		mode uint32
	}{{"etc/passwd", a.Passwd, 0o644}, {"etc/group", a.Group, 0o644}, {"etc/shadow", a.Shadow, 0o640}} {
		if err := t.Add(fstree.Entry{Path: f.p, Kind: fstree.File, Mode: fs.FileMode(f.mode), Data: f.data, Origin: gen}); err != nil {
			return err
		}
	}
	for _, h := range a.Homes {
		// 0700: adduser's DIR_MODE since bookworm.
		if err := t.Add(fstree.Entry{Path: h.Path, Kind: fstree.Dir, Mode: 0o700, UID: h.UID, GID: h.GID, Origin: gen}); err != nil {
			return err
		}
	}
	for _, k := range a.Keys {
		dir := path.Dir(k.Path)
		if err := t.Add(fstree.Entry{Path: dir, Kind: fstree.Dir, Mode: 0o700, UID: k.UID, GID: k.GID, Origin: gen}); err != nil {
			return err
		}
		if err := t.Add(fstree.Entry{Path: k.Path, Kind: fstree.File, Mode: 0o600, UID: k.UID, GID: k.GID, Data: k.Data, Origin: gen}); err != nil {
			return err
		}
	}
	return nil
}
