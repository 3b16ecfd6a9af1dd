package boot_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// TestHardenedUnits boots the server ISO with three units running the same probe
// (testdata/hardenprobe, built here and laid over the image with the units of
// testdata/hardened): harden-plain.service without sandbox keys, harden-strict.service with
// NoNewPrivileges=, ProtectSystem=strict, ReadWritePaths=, PrivateTmp=, RestrictAddressFamilies=,
// CapabilityBoundingSet=, MemoryMax= and TasksMax=, and harden-user.service as nobody with
// AmbientCapabilities=CAP_NET_RAW, PrivateDevices= and ProtectHome=. The hardened unit cannot
// write /usr, gains no root through a set-user-ID-root program and cannot open an AF_PACKET
// socket; the plain one does the last two.
//
// The setuid check: the probe, as root, copies itself to /var/lib/hardenprobe, chowns the copy to
// root and sets its mode to 04755, then runs it as nobody; the copy prints its effective user ID.
// 0 means the set-user-ID bit took effect (root gained), 65534 that it did not. An overlay from
// git cannot carry the bit, so the copy is made in the guest.
func TestHardenedUnits(t *testing.T) {
	needQEMU(t)
	overlay := t.TempDir()
	probe := filepath.Join(overlay, "usr", "local", "bin", "hardenprobe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", probe, "./testdata/hardenprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	res := buildISO(t, "hardened", build.Options{ExtraOverlays: []string{"testdata/hardened", overlay}})
	m := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD}, 8*time.Minute)
	chooseDebug(t, m)

	report := func(name string) map[string]string {
		t.Helper()
		re := regexp.MustCompile(`hardenprobe ` + name + ` [^\r\n]* end`)
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
			if line := re.FindString(withoutKmsg(string(m.Console()))); line != "" {
				t.Logf("%s", line)
				return fields(line)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no report of harden-%s.service\n%s", name, m.Console())
			}
		}
	}
	plain, strict := report("plain"), report("strict")
	check := func(name string, rep map[string]string, want map[string]string) {
		t.Helper()
		for k, w := range want {
			if rep[k] != w {
				t.Errorf("harden-%s.service: %s=%s, want %s", name, k, rep[k], w)
			}
		}
	}
	// The control: as root without a sandbox, the set-user-ID bit works and AF_PACKET opens.
	check("plain", plain, map[string]string{"root_mode": "700", "uid": "0", "usr": "ok", "packet": "ok", "setuid_euid": "0", "nonewprivs": "0", "seccomp": "0"})
	// CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_FOWNER (3, 6, 7, 0) and CAP_NET_RAW (13).
	check("strict", strict, map[string]string{"uid": "0", "usr": "EROFS", "packet": "EAFNOSUPPORT", "setuid_euid": "65534",
		"nonewprivs": "1", "seccomp": "2", "capbnd": fmt.Sprintf("%016x", 1<<0|1<<3|1<<6|1<<7|1<<13),
		"tmp_shared": "false", "memory.max": fmt.Sprint(64 << 20), "pids.max": "32"})

	// harden-user.service cannot write the console (PrivateDevices=): its log, through the shell.
	if err := m.Expect("$ ", 2*time.Minute); err != nil {
		t.Fatalf("no shell prompt: %v\n%s", err, m.Console())
	}
	from := m.Mark()
	if err := m.Send("consciousness-manager logs harden-user.service; ls /tmp\r"); err != nil {
		t.Fatal(err)
	}
	if err := m.Expect("\n$ ", time.Minute); err != nil {
		t.Fatalf("no prompt after logs: %v\n%s", err, m.Console())
	}
	out := withoutKmsg(m.Since(from))
	line := regexp.MustCompile(`hardenprobe user [^\r\n]* end`).FindString(out)
	if line == "" {
		t.Fatalf("no report of harden-user.service in its log:\n%s", out)
	}
	t.Logf("%s", strings.TrimSpace(line))
	// 13 entries: null zero full random urandom tty pts shm ptmx fd stdin stdout stderr.
	check("user", fields(line), map[string]string{"uid": "65534", "packet": "ok", "capamb": fmt.Sprintf("%016x", 1<<13),
		"capbnd": fmt.Sprintf("%016x", 1<<13), "dev_entries": "13", "setuid_euid": "skipped",
		// ProtectHome=yes: an empty tmpfs of mode 000 over /root (0700 in the image).
		"root_fs": "0x1021994", "root_mode": "000"})
	// The hardened unit's /tmp was its own: the plain unit's file is in the system's, its own is not.
	if !strings.Contains(out, "hardenprobe-plain") {
		t.Errorf("ls /tmp: no hardenprobe-plain:\n%s", out)
	}
}

// kmsgLine is a kernel message on the serial console (microseconds in its time stamp, where the
// service logs have milliseconds), which may land inside a line the test reads.
var kmsgLine = regexp.MustCompile(`\[ *[0-9]+\.[0-9]{6}\] [^\n]*\n?`)

func withoutKmsg(s string) string { return kmsgLine.ReplaceAllString(s, "") }

// fields parses "key=value" words.
func fields(line string) map[string]string {
	rep := map[string]string{}
	for _, w := range strings.Fields(line) {
		if k, v, ok := strings.Cut(w, "="); ok {
			rep[k] = v
		}
	}
	return rep
}
