package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/initramfs/power"
	"golang.org/x/sys/unix"
)

// action is what happens to a mount at or under a path.
type action int

const (
	keep     action = iota // as it is (writable if it is)
	readOnly               // bind-remounted read-only
)

type rule struct {
	path     string
	act      action
	optional bool   // a missing path is skipped
	mounted  bool   // already a mount point of its own (an API file system): no bind needed
	tmpfs    string // mount a tmpfs here first, with these options
}

// rules lists the paths of spec and what becomes of them (systemd.exec(5), "Sandboxing").
func rules(spec Spec) []rule {
	s := spec.Sandbox
	var rs []rule
	ro := func(opt bool, ps ...string) {
		for _, p := range ps {
			rs = append(rs, rule{path: p, act: readOnly, optional: opt})
		}
	}
	switch s.ProtectSystem {
	case "yes":
		ro(true, "/usr", "/boot", "/efi")
	case "full":
		ro(true, "/usr", "/boot", "/efi", "/etc")
	case "strict":
		ro(false, "/")
		// The API file systems stay as they are (ProtectKernelTunables= and friends are not
		// implemented).
		for _, p := range []string{"/dev", "/proc", "/sys"} {
			rs = append(rs, rule{path: p, act: keep, optional: true, mounted: true})
		}
	}
	home := []string{"/home", "/root", "/run/user"}
	switch s.ProtectHome {
	case "yes": // empty and inaccessible
		for _, p := range home {
			rs = append(rs, rule{path: p, act: readOnly, optional: true, tmpfs: "mode=000"})
		}
	case "read-only":
		ro(true, home...)
	case "tmpfs": // empty, read-only
		for _, p := range home {
			rs = append(rs, rule{path: p, act: readOnly, optional: true, tmpfs: "mode=755"})
		}
	}
	for _, p := range s.ReadOnlyPaths {
		ro(strings.HasPrefix(p, "-"), strings.TrimPrefix(p, "-"))
	}
	for _, p := range s.ReadWritePaths {
		rs = append(rs, rule{path: strings.TrimPrefix(p, "-"), act: keep, optional: strings.HasPrefix(p, "-")})
	}
	for _, p := range spec.Writable {
		rs = append(rs, rule{path: p, act: keep, optional: true})
	}
	if s.PrivateTmp {
		for _, p := range []string{"/tmp", "/var/tmp"} {
			rs = append(rs, rule{path: p, act: keep, tmpfs: "mode=1777"})
		}
	}
	if s.PrivateDevices {
		rs = append(rs, rule{path: "/dev", act: keep, mounted: true})
	}
	return rs
}

// mountAll makes the mounts of spec in a new mount namespace of the calling thread.
func mountAll(spec Spec) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("sandbox: unshare mount namespace: %w", err)
	}
	// Nothing made here may propagate back to the init's namespace (mount_namespaces(7)).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("sandbox: make / a slave mount: %w", err)
	}
	if spec.PrivateDevices {
		if err := privateDev(); err != nil {
			return fmt.Errorf("PrivateDevices: %w", err)
		}
	}
	rs := rules(spec)
	// Parents first: a recursive bind of a parent then carries its children's binds.
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].path) < len(rs[j].path) })
	var live []rule
	for _, r := range rs {
		if _, err := os.Stat(r.path); err != nil {
			if errors.Is(err, fs.ErrNotExist) && r.tmpfs != "" && !r.optional {
				err = os.MkdirAll(r.path, 0o755)
			}
			if err != nil {
				if r.optional && errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("sandbox: %s: %w", r.path, err)
			}
		}
		live = append(live, r)
		switch {
		case r.tmpfs != "":
			if err := unix.Mount("tmpfs", r.path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, r.tmpfs); err != nil {
				return fmt.Errorf("sandbox: tmpfs on %s: %w", r.path, err)
			}
		case r.path != "/" && !r.mounted:
			// Its own mount, so that it can have its own flags.
			if err := unix.Mount(r.path, r.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("sandbox: bind %s: %w", r.path, err)
			}
		}
	}
	mounts, err := mountInfo()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if govern(live, m.point) != readOnly || m.flags&unix.MS_RDONLY != 0 {
			continue
		}
		flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY) | m.flags
		if err := unix.Mount("", m.point, "", flags, ""); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EACCES) {
				continue // shadowed or under an inaccessible folder: nothing reaches it
			}
			return fmt.Errorf("sandbox: read-only %s: %w", m.point, err)
		}
	}
	return nil
}

// govern is the action of the rule with the longest path at or above p (the most specific wins).
func govern(rs []rule, p string) action {
	best, act := -1, keep
	for _, r := range rs {
		under := p == r.path || r.path == "/" || strings.HasPrefix(p, r.path+"/")
		if under && len(r.path) > best {
			best, act = len(r.path), r.act
		}
	}
	return act
}

type mountPoint struct {
	point string
	flags uintptr // MS_* of the mount's own options
}

// mountFlags are the per-mount options of proc(5)'s mountinfo that a remount must keep.
var mountFlags = map[string]uintptr{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
	"noatime": unix.MS_NOATIME, "nodiratime": unix.MS_NODIRATIME, "relatime": unix.MS_RELATIME,
	"strictatime": unix.MS_STRICTATIME,
}

// mountInfo reads the calling thread's mountinfo (proc(5)): field 5 is the mount point (octal
// escapes for blanks), field 6 the mount's options. /proc/self would be the main thread's, which
// is not in the new namespace unless it is the calling thread.
func mountInfo() ([]mountPoint, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer f.Close()
	var out []mountPoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 {
			continue
		}
		m := mountPoint{point: power.Unescape(fs[4])}
		for _, o := range strings.Split(fs[5], ",") {
			m.flags |= mountFlags[o]
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// privateDev mounts a /dev holding only the pseudo devices (null, zero, full, random, urandom,
// tty), a private devpts, /dev/shm and the /proc/self/fd links, as systemd's PrivateDevices=.
func privateDev() error {
	type node struct {
		name string
		mode uint32
		rdev uint64
	}
	var nodes []node
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		var st unix.Stat_t
		if err := unix.Stat("/dev/"+n, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return err
		}
		nodes = append(nodes, node{n, st.Mode, st.Rdev})
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	for _, n := range nodes {
		if err := unix.Mknod("/dev/"+n.name, n.mode, int(n.rdev)); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", n.name, err)
		}
		if err := unix.Chmod("/dev/"+n.name, n.mode&0o7777); err != nil { // past the umask
			return err
		}
	}
	for _, d := range []string{"/dev/pts", "/dev/shm"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"); err != nil {
		return fmt.Errorf("devpts: %w", err)
	}
	if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("/dev/shm: %w", err)
	}
	for link, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd",
		"stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join("/dev", link)); err != nil {
			return err
		}
	}
	return nil
}
