// Command hardenprobe is the program of TestHardenedUnits (test/boot/harden_test.go): run by a
// unit as `hardenprobe NAME`, it tries what a hardened unit must not be able to do and prints one
// line, "hardenprobe NAME key=value ... end", on stdout (the unit's log) and the console:
//
//   - usr: creating a file in /usr (ok, or the errno, EROFS under ProtectSystem=);
//   - packet: socket(AF_PACKET) (ok, or EAFNOSUPPORT under RestrictAddressFamilies=);
//   - setuid_euid: the effective user ID of a set-user-ID-root copy of this program run as nobody
//     (0: the set-user-ID bit gave root; 65534: it did not, as under NoNewPrivileges=). The copy
//     is made at run time in /var/lib/hardenprobe, chowned to root and chmod 04755: an overlay
//     from git cannot carry a set-user-ID bit;
//   - tmp_shared: whether /tmp/hardenprobe-plain, written by the unhardened unit, is visible;
//   - the NoNewPrivs, Seccomp, CapBnd, CapAmb and Uid lines of /proc/self/status, the cgroup's
//     memory.max and pids.max, the entries of /dev, the file system and mode of /root.
//
// Run as `hardenprobe euid` it prints its effective user ID.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hardenprobe NAME | euid")
		os.Exit(2)
	}
	if os.Args[1] == "euid" {
		fmt.Println(os.Geteuid())
		return
	}
	name := os.Args[1]
	var out []string
	add := func(k, v string) { out = append(out, k+"="+v) }
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "Uid", "NoNewPrivs", "Seccomp", "CapBnd", "CapAmb":
			add(strings.ToLower(k), strings.Fields(v)[0])
		}
	}
	usr := "/usr/hardenprobe-" + name
	err := os.WriteFile(usr, []byte("x"), 0o644)
	add("usr", res(err))
	os.Remove(usr)

	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	add("packet", res(err))

	add("setuid_euid", setuidEUID(name))

	if name == "plain" {
		err = os.WriteFile("/tmp/hardenprobe-plain", []byte("x"), 0o644)
		add("tmp_write", res(err))
	} else {
		_, err := os.Stat("/tmp/hardenprobe-plain")
		add("tmp_shared", strconv.FormatBool(err == nil))
	}

	cg, _ := os.ReadFile("/proc/self/cgroup")
	if _, p, ok := strings.Cut(strings.TrimSpace(string(cg)), "0::"); ok {
		for _, f := range []string{"memory.max", "pids.max"} {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", p, f))
			v := strings.TrimSpace(string(b))
			if err != nil {
				v = res(err)
			}
			add(f, v)
		}
	}
	ents, err := os.ReadDir("/dev")
	add("dev_entries", strconv.Itoa(len(ents)))
	var sfs unix.Statfs_t
	if err := unix.Statfs("/root", &sfs); err == nil {
		add("root_fs", fmt.Sprintf("%#x", sfs.Type))
	}
	if fi, err := os.Stat("/root"); err == nil {
		add("root_mode", fmt.Sprintf("%03o", fi.Mode().Perm()))
	}
	line := "hardenprobe " + name + " " + strings.Join(out, " ") + " end\n"
	fmt.Print(line)
	if c, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		io.WriteString(c, line)
		c.Close()
	}
}

// setuidEUID runs a set-user-ID-root copy of this program as nobody and returns the effective
// user ID it reports ("skipped" when not root: only root can make the copy).
func setuidEUID(name string) string {
	if os.Getuid() != 0 {
		return "skipped"
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return res(err)
	}
	p := "/var/lib/hardenprobe/suid-" + name
	if err := os.WriteFile(p, self, 0o755); err != nil {
		return res(err)
	}
	defer os.Remove(p)
	if err := os.Chown(p, 0, 0); err != nil {
		return res(err)
	}
	if err := os.Chmod(p, 0o755|os.ModeSetuid); err != nil { // 04755
		return res(err)
	}
	cmd := exec.Command(p, "euid")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	b, err := cmd.Output()
	if err != nil {
		return res(err)
	}
	return strings.TrimSpace(string(b))
}

func res(err error) string {
	var en syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &en):
		return unix.ErrnoName(en)
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}
