package svc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/genai-os/genai-build/initramfs/login"
)

// credential resolves User= and Group= against root's /etc/passwd and
// /etc/group (no cgo, no NSS: the image has only those files). Numeric ids are
// taken as they are. It returns nil when both are empty.
func credential(root, user, group string) (*syscall.Credential, []string, error) {
	if user == "" && group == "" {
		return nil, nil, nil
	}
	c := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	var env []string
	if user != "" {
		uid, gid, home, err := lookupUser(root, user)
		if err != nil {
			return nil, nil, err
		}
		c.Uid, c.Gid = uid, gid
		name := user
		env = append(env, "USER="+name, "LOGNAME="+name, "HOME="+home)
		if groups, err := login.Groups(root, name, gid); err == nil {
			c.Groups = groups
		}
	}
	if group != "" {
		gid, err := LookupGroup(root, group)
		if err != nil {
			return nil, nil, err
		}
		c.Gid = gid
	}
	if c.Groups == nil {
		c.Groups = []uint32{}
		c.NoSetGroups = os.Getuid() != 0
	}
	return c, env, nil
}

// readColon calls f with the fields of each line of root's passwd or group file that has at
// least four, until f returns false.
func readColon(path string, f func(fields []string) bool) error {
	return login.EachLine(path, func(fs []string) bool { return len(fs) < 4 || f(fs) })
}

func lookupUser(root, user string) (uid, gid uint32, home string, err error) {
	if n, perr := strconv.ParseUint(user, 10, 32); perr == nil {
		return uint32(n), uint32(n), "/", nil
	}
	found := false
	err = readColon(filepath.Join(root, "etc/passwd"), func(fs []string) bool {
		if fs[0] != user || len(fs) < 6 {
			return true
		}
		u, e1 := strconv.ParseUint(fs[2], 10, 32)
		g, e2 := strconv.ParseUint(fs[3], 10, 32)
		if e1 == nil && e2 == nil {
			uid, gid, home, found = uint32(u), uint32(g), fs[5], true
		}
		return false
	})
	if err == nil && !found {
		err = fmt.Errorf("user %q not in /etc/passwd", user)
	}
	return uid, gid, home, err
}

// LookupGroup resolves a group name (or number) in root/etc/group.
func LookupGroup(root, group string) (uint32, error) {
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(n), nil
	}
	var gid uint32
	found := false
	err := readColon(filepath.Join(root, "etc/group"), func(fs []string) bool {
		if fs[0] != group {
			return true
		}
		if g, err := strconv.ParseUint(fs[2], 10, 32); err == nil {
			gid, found = uint32(g), true
		}
		return false
	})
	if err == nil && !found {
		err = fmt.Errorf("group %q not in /etc/group", group)
	}
	return gid, err
}
