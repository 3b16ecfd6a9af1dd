package login

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ShellArgv0 is the name a login shell is started under, as login(1) does it: "-" and the
// shell's base name, which makes bash, dash or zsh read /etc/profile (and /etc/profile.d) and the
// user's profile. u-root's busybox (bbin/bb, where the gosh of the editions without a shell of
// their own lives) picks its command by argv[0] and knows no "-": its commands keep their name.
func ShellArgv0(root, shell string) string {
	base := filepath.Base(shell)
	if target, err := filepath.EvalSymlinks(filepath.Join(root, shell)); err == nil && filepath.Base(target) == "bb" {
		return base
	}
	return "-" + base
}

// RuntimeDir makes the user's $XDG_RUNTIME_DIR, /run/user/<uid> under root, as logind does at
// login: owned by the user, mode 0700 (the XDG Base Directory Specification's), and kept when it
// exists (a service of the same user may have made it). It returns the path in the running
// system.
func RuntimeDir(root string, a Account) (string, error) {
	dir := "/run/user/" + strconv.Itoa(a.UID)
	if err := os.MkdirAll(filepath.Join(root, "run/user"), 0o755); err != nil {
		return "", err
	}
	host := filepath.Join(root, dir)
	if err := os.Mkdir(host, 0o700); err != nil && !os.IsExist(err) {
		return "", err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a folder", dir)
	}
	if err := os.Lchown(host, a.UID, a.GID); err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	if err := os.Chmod(host, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// Groups are the user's groups, as initgroups(3) makes them from root's /etc/group: the primary
// group first, then each group that lists the user as a member.
func Groups(root, user string, primary uint32) ([]uint32, error) {
	gs := []uint32{primary}
	err := EachLine(filepath.Join(root, "etc/group"), func(fs []string) bool {
		if len(fs) >= 4 && slices.Contains(strings.Split(fs[3], ","), user) {
			if g, err := strconv.ParseUint(fs[2], 10, 32); err == nil && uint32(g) != primary {
				gs = append(gs, uint32(g))
			}
		}
		return true
	})
	return gs, err
}
