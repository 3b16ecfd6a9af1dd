package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/genai-os/genai-build/initramfs/unit"
	"golang.org/x/sys/unix"
)

// The test binary is also the helper and the probe the helper executes (by role).
const roleEnv = "SANDBOX_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "helper":
		os.Setenv(roleEnv, "probe") // what the helper executes is the probe
		err := Exec(os.Args[1:])
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(111)
	case "probe":
		probe(os.Args[1:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probe reports, one "key=value" line each: the status lines about privileges, then per argument
// "w:PATH" (create a file), "s:FAMILY" (socket(2)), "st:PATH" (file system and read-only flag),
// "n:PATH" (entries of a folder).
func probe(args []string) {
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "Uid", "Gid", "Groups", "NoNewPrivs", "Seccomp", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
			fmt.Printf("%s=%s\n", k, strings.Join(strings.Fields(v), " "))
		}
	}
	res := func(err error) string {
		var en syscall.Errno
		switch {
		case err == nil:
			return "ok"
		case errors.As(err, &en):
			return unix.ErrnoName(en)
		}
		return err.Error()
	}
	for _, a := range args {
		k, v, _ := strings.Cut(a, ":")
		var out string
		switch k {
		case "w":
			err := os.WriteFile(v, []byte("x"), 0o644)
			out = res(err)
		case "s":
			af, _ := strconv.Atoi(v)
			fd, err := unix.Socket(af, unix.SOCK_DGRAM, 0)
			if err == nil {
				unix.Close(fd)
			}
			out = res(err)
		case "st":
			var sfs unix.Statfs_t
			err := unix.Statfs(v, &sfs)
			out = res(err)
			if err == nil {
				out = fmt.Sprintf("type=%#x ro=%v", sfs.Type, sfs.Flags&unix.ST_RDONLY != 0)
			}
		case "n":
			ents, err := os.ReadDir(v)
			out = res(err)
			if err == nil {
				out = strconv.Itoa(len(ents))
			}
		}
		fmt.Printf("%s=%s\n", a, out)
	}
}

// run runs the probe with args through the helper under spec, and returns its report.
func run(t *testing.T, spec Spec, args ...string) map[string]string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: the helper mounts, drops capabilities and switches users as the init does")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// /proc/self/exe: the probe is reached even when the mounts hide the test binary's folder.
	hargs, err := Args(spec, "/proc/self/exe", append([]string{"probe"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, hargs...)
	cmd.Args[0] = ExecName
	cmd.Env = append(os.Environ(), roleEnv+"=helper")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	rep := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		rep[k] = v
	}
	return rep
}

func hexMask(m uint64) string { return fmt.Sprintf("%016x", m) }

func TestUnsandboxedBaseline(t *testing.T) {
	rep := run(t, Spec{}, "s:17", "w:"+filepath.Join(t.TempDir(), "f"))
	if rep["NoNewPrivs"] != "0" || rep["s:17"] != "ok" || rep["Seccomp"] != "0" {
		t.Errorf("an empty spec restricted the probe: %v", rep)
	}
}

func TestRestrictAddressFamilies(t *testing.T) {
	rep := run(t, Spec{Sandbox: unit.Sandbox{Families: &unit.Families{List: []int{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6}}}},
		"s:17", "s:1", "s:2", "s:10", "s:16")
	for k, want := range map[string]string{"s:17": "EAFNOSUPPORT", "s:16": "EAFNOSUPPORT", "s:1": "ok", "s:2": "ok", "s:10": "ok", "Seccomp": "2"} {
		if rep[k] != want {
			t.Errorf("allow AF_UNIX AF_INET AF_INET6: %s=%s, want %s", k, rep[k], want)
		}
	}
	rep = run(t, Spec{Sandbox: unit.Sandbox{Families: &unit.Families{Deny: true, List: []int{unix.AF_PACKET}}}}, "s:17", "s:1", "s:16")
	if rep["s:17"] != "EAFNOSUPPORT" || rep["s:1"] != "ok" || rep["s:16"] != "ok" {
		t.Errorf("~AF_PACKET: %v", rep)
	}
	rep = run(t, Spec{Sandbox: unit.Sandbox{Families: &unit.Families{}}}, "s:1")
	if rep["s:1"] != "EAFNOSUPPORT" {
		t.Errorf("none: %v", rep)
	}
}

func TestNoNewPrivileges(t *testing.T) {
	if rep := run(t, Spec{Sandbox: unit.Sandbox{NoNewPrivileges: true}}); rep["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs=%s, want 1", rep["NoNewPrivs"])
	}
}

func TestCapabilitiesAndUser(t *testing.T) {
	bound := uint64(1<<unix.CAP_NET_RAW | 1<<unix.CAP_NET_BIND_SERVICE)
	ambient := uint64(1 << unix.CAP_NET_RAW)
	// As nobody, AF_PACKET needs CAP_NET_RAW: the ambient set carries it through the exec.
	rep := run(t, Spec{Sandbox: unit.Sandbox{Bound: bound, HasBound: true, Ambient: ambient},
		Cred: &Cred{Uid: 65534, Gid: 65534, Groups: []uint32{65534}}}, "s:17")
	for k, want := range map[string]string{"CapBnd": hexMask(bound), "CapAmb": hexMask(ambient), "CapEff": hexMask(ambient),
		"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534", "Groups": "65534", "s:17": "ok"} {
		if rep[k] != want {
			t.Errorf("%s=%s, want %s", k, rep[k], want)
		}
	}
	// Without the ambient capability the same user cannot; as root, the bounding set is what remains.
	rep = run(t, Spec{Sandbox: unit.Sandbox{Bound: bound, HasBound: true}, Cred: &Cred{Uid: 65534, Gid: 65534}}, "s:17")
	if rep["s:17"] != "EPERM" || rep["CapEff"] != hexMask(0) || rep["Groups"] != "" {
		t.Errorf("nobody without ambient capabilities: %v", rep)
	}
	rep = run(t, Spec{Sandbox: unit.Sandbox{Bound: bound, HasBound: true}})
	if rep["CapEff"] != hexMask(bound) || rep["CapBnd"] != hexMask(bound) {
		t.Errorf("root with CapabilityBoundingSet: %v", rep)
	}
	// An ambient capability outside the bounding set is refused.
	if err := setCaps(Spec{Sandbox: unit.Sandbox{Bound: 0, HasBound: true, Ambient: ambient}}); err == nil ||
		!strings.Contains(err.Error(), "CAP_NET_RAW not in CapabilityBoundingSet") {
		t.Errorf("ambient outside the bounding set: %v", err)
	}
}

func TestProtectSystemStrict(t *testing.T) {
	// Not under /tmp, which PrivateTmp= replaces.
	rw, err := os.MkdirTemp("/run", "genai-sandbox-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rw) })
	ro := filepath.Join(rw, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	rep := run(t, Spec{Sandbox: unit.Sandbox{ProtectSystem: "strict", PrivateTmp: true, ReadWritePaths: []string{rw}, ReadOnlyPaths: []string{ro}}},
		"w:/usr/genai-sandbox-test", "w:/etc/genai-sandbox-test", "w:"+rw+"/f", "w:"+ro+"/f", "w:/tmp/genai-sandbox-test",
		"w:/dev/null", "st:/usr", "n:/tmp")
	os.Remove("/usr/genai-sandbox-test")
	os.Remove("/etc/genai-sandbox-test")
	for k, want := range map[string]string{"w:/usr/genai-sandbox-test": "EROFS", "w:/etc/genai-sandbox-test": "EROFS",
		"w:" + rw + "/f": "ok", "w:" + ro + "/f": "EROFS", "w:/tmp/genai-sandbox-test": "ok", "w:/dev/null": "ok",
		"n:/tmp": "1"} {
		if rep[k] != want {
			t.Errorf("%s=%s, want %s", k, rep[k], want)
		}
	}
	if !strings.HasSuffix(rep["st:/usr"], "ro=true") {
		t.Errorf("/usr: %s, want read-only", rep["st:/usr"])
	}
	// The private /tmp was the probe's alone.
	if _, err := os.Stat("/tmp/genai-sandbox-test"); err == nil {
		os.Remove("/tmp/genai-sandbox-test")
		t.Error("the file written in the private /tmp is in the host's /tmp")
	}
	if _, err := os.Stat(filepath.Join(rw, "f")); err != nil {
		t.Errorf("ReadWritePaths: %v", err)
	}
}

func TestProtectSystemYesFull(t *testing.T) {
	tmp := t.TempDir()
	rep := run(t, Spec{Sandbox: unit.Sandbox{ProtectSystem: "yes"}}, "w:/usr/genai-sandbox-test", "w:"+tmp+"/f")
	os.Remove("/usr/genai-sandbox-test")
	if rep["w:/usr/genai-sandbox-test"] != "EROFS" || rep["w:"+tmp+"/f"] != "ok" {
		t.Errorf("ProtectSystem=yes: %v", rep)
	}
	rep = run(t, Spec{Sandbox: unit.Sandbox{ProtectSystem: "full"}}, "w:/etc/genai-sandbox-test", "w:"+tmp+"/g")
	os.Remove("/etc/genai-sandbox-test")
	if rep["w:/etc/genai-sandbox-test"] != "EROFS" || rep["w:"+tmp+"/g"] != "ok" {
		t.Errorf("ProtectSystem=full: %v", rep)
	}
}

func TestProtectHome(t *testing.T) {
	for mode, want := range map[string]string{"yes": fmt.Sprintf("type=%#x ro=true", unix.TMPFS_MAGIC), "tmpfs": fmt.Sprintf("type=%#x ro=true", unix.TMPFS_MAGIC)} {
		rep := run(t, Spec{Sandbox: unit.Sandbox{ProtectHome: mode}}, "st:/root", "n:/root", "w:/root/genai-sandbox-test")
		os.Remove("/root/genai-sandbox-test")
		if rep["st:/root"] != want || rep["n:/root"] != "0" || rep["w:/root/genai-sandbox-test"] != "EROFS" {
			t.Errorf("ProtectHome=%s: %v", mode, rep)
		}
	}
	rep := run(t, Spec{Sandbox: unit.Sandbox{ProtectHome: "read-only"}}, "w:/root/genai-sandbox-test")
	os.Remove("/root/genai-sandbox-test")
	if rep["w:/root/genai-sandbox-test"] != "EROFS" {
		t.Errorf("ProtectHome=read-only: %v", rep)
	}
}

func TestPrivateDevices(t *testing.T) {
	rep := run(t, Spec{Sandbox: unit.Sandbox{PrivateDevices: true}}, "st:/dev", "n:/dev", "w:/dev/null", "n:/dev/pts")
	if rep["st:/dev"] != fmt.Sprintf("type=%#x ro=false", unix.TMPFS_MAGIC) || rep["w:/dev/null"] != "ok" {
		t.Errorf("PrivateDevices: %v", rep)
	}
	// null zero full random urandom tty pts shm ptmx fd stdin stdout stderr
	if n, _ := strconv.Atoi(rep["n:/dev"]); n != 13 {
		t.Errorf("/dev has %s entries, want 13", rep["n:/dev"])
	}
	bnd, _ := strconv.ParseUint(rep["CapBnd"], 16, 64)
	if bnd&(1<<unix.CAP_MKNOD|1<<unix.CAP_SYS_RAWIO) != 0 || bnd&(1<<unix.CAP_NET_RAW) == 0 {
		t.Errorf("CapBnd=%s: want CAP_MKNOD and CAP_SYS_RAWIO dropped, the rest kept", rep["CapBnd"])
	}
}

func TestGovern(t *testing.T) {
	rs := []rule{{path: "/", act: readOnly}, {path: "/var/lib/x", act: keep}, {path: "/var/lib/x/ro", act: readOnly}, {path: "/dev", act: keep}}
	for p, want := range map[string]action{"/": readOnly, "/usr": readOnly, "/var/lib/x": keep, "/var/lib/xy": readOnly,
		"/var/lib/x/a": keep, "/var/lib/x/ro/b": readOnly, "/dev/pts": keep} {
		if got := govern(rs, p); got != want {
			t.Errorf("govern(%s) = %v, want %v", p, got, want)
		}
	}
}
