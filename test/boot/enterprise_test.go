package boot_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/efivars"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/sbkeys"
)

// orgKeys is one organisation's Secure Boot key set, made once per test run (never committed), and
// the OVMF variable store with it enrolled and Secure Boot on.
type orgKeys struct {
	once sync.Once
	dir  string // genai-build keys init's folder
	vars string // OVMF_VARS with PK, KEK and db enrolled
	err  error
}

var testOrg, otherOrg orgKeys

// keys makes the key set on first use: the folder --keys takes and the enrolled variable store.
func (o *orgKeys) keys(t *testing.T, org string) (dir, vars string) {
	t.Helper()
	o.once.Do(func() {
		var top string
		if top, o.err = os.MkdirTemp("", "genai-keys-*"); o.err != nil {
			return
		}
		var set *sbkeys.Set
		if set, o.err = sbkeys.Generate(org); o.err != nil {
			return
		}
		o.dir = filepath.Join(top, "keys")
		if o.err = sbkeys.Write(o.dir, set, sourceDate); o.err != nil {
			return
		}
		var tmpl, enrolled []byte
		if tmpl, o.err = os.ReadFile("/usr/share/OVMF/OVMF_VARS_4M.fd"); o.err != nil {
			return
		}
		if enrolled, o.err = efivars.Enroll(tmpl, set.PK.Cert, set.KEK.Cert, set.DB.Cert); o.err != nil {
			return
		}
		o.vars = filepath.Join(top, "OVMF_VARS_4M.enrolled.fd")
		o.err = os.WriteFile(o.vars, enrolled, 0o644)
	})
	if o.err != nil {
		t.Fatalf("%s's Secure Boot keys: %v", org, o.err)
	}
	return o.dir, o.vars
}

// OVMF refuses an image Secure Boot does not allow with EFI_ACCESS_DENIED or
// EFI_SECURITY_VIOLATION; BdsDxe prints the status on the console
// ("BdsDxe: failed to load Boot0001 ...: Access Denied").
var refusedLine = regexp.MustCompile(`Access Denied|Security Violation`)

// kernelStarted is the kernel's first line: a refused image never gets there.
var kernelStarted = regexp.MustCompile(`Linux version`)

// enterpriseSSH is the key the enterprise test image lets root log in with.
var enterpriseSSH struct {
	once       sync.Once
	signer     ssh.Signer
	authorized string
}

// enterpriseISO is the enterprise edition as `genai-build iso --edition enterprise --keys DIR
// --ssh-key KEY --overlay test/boot/testdata/firewall` builds it, signed with the test
// organisation's db key. The overlay adds a service on tcp/8080 that no unit declares to the
// firewall.
func enterpriseISO(t *testing.T) *build.Result {
	t.Helper()
	enterpriseSSH.once.Do(func() { enterpriseSSH.signer, enterpriseSSH.authorized = testKey(t) })
	dir, _ := testOrg.keys(t, "GenAI Test Org")
	return buildISO(t, "enterprise", build.Options{Edition: "enterprise", Keys: dir, SSHKeys: []string{enterpriseSSH.authorized},
		ExtraOverlays: []string{filepath.Join(root, "test/boot/testdata/firewall")}})
}

// TestEnterprise boots the enterprise ISO under OVMF with the organisation's keys enrolled and
// Secure Boot on, from a CD and from a USB stick, and checks what the init reports: Secure Boot on,
// the kernel in integrity lockdown, every layer of the root read through dm-verity, the firewall
// up, and then the whole system ready. From the CD it then logs in over SSH: the login is in the
// audit log, the service on tcp/8080 is not reachable while SSH is, and the hardened sshd's
// session cannot write the system.
func TestEnterprise(t *testing.T) {
	needQEMU(t)
	res := enterpriseISO(t)
	_, vars := testOrg.keys(t, "GenAI Test Org")
	// The medium carries the SBOM and the build manifest, and the signed UKI the manifest's digest.
	t.Run("medium", func(t *testing.T) {
		manifest, err := iso.ReadFile(res.Image, "genai/build.json")
		if err != nil {
			t.Fatal(err)
		}
		sbom, err := iso.ReadFile(res.Image, "genai/sbom.spdx.json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Packages    []struct {
				Name string `json:"name"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(sbom, &doc); err != nil || doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) < 10 {
			t.Errorf("the medium's SBOM: %v, version %q, %d packages", err, doc.SPDXVersion, len(doc.Packages))
		}
		img, err := os.ReadFile(res.Image)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(manifest)
		if want := "GENAI_BUILD_MANIFEST_SHA256=" + hex.EncodeToString(sum[:]) + "\n"; !bytes.Contains(img, []byte(want)) {
			t.Errorf("the UKI's .osrel lacks %q", want)
		}
	})
	for _, media := range []qemu.Media{qemu.CD, qemu.USB} {
		t.Run(string(media), func(t *testing.T) {
			t.Parallel()
			cfg := qemu.Config{Image: res.Image, Firmware: qemu.SecureBoot, Vars: vars, Media: media}
			var sshAddr, bannerAddr string
			if media == qemu.CD {
				var sshPort, bannerPort string
				sshAddr, sshPort = freePort(t)
				bannerAddr, bannerPort = freePort(t)
				cfg.HostFwd = []string{"tcp:127.0.0.1:" + sshPort + "-:22", "tcp:127.0.0.1:" + bannerPort + "-:8080"}
			}
			vm := startVM(t, cfg, 8*time.Minute)
			line, err := vm.WaitFor(readyLine("enterprise"))
			if err != nil {
				t.Fatalf("no ready line: %v\n%s", err, vm.Console())
			}
			t.Log(line)
			console := string(vm.Console())
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`EFI stub: UEFI Secure Boot is enabled`),
				regexp.MustCompile(`integrity: Loaded X.509 cert 'GenAI Test Org db`),
				regexp.MustCompile(`genai-os: security secureboot=on lockdown=integrity`),
				regexp.MustCompile(`genai-os: verity on layers=` + strconv.Itoa(len(res.Layers)) + ` on_corruption=eio`),
				regexp.MustCompile(`genai-os: firewall on input=drop allow=tcp/22\b`),
			} {
				if !want.MatchString(console) {
					t.Errorf("console lacks %s:\n%s", want, console)
				}
			}
			if media == qemu.CD {
				enterpriseSession(t, vm, sshAddr, bannerAddr)
			}
		})
	}
}

// enterpriseSession logs in over SSH with a terminal (sshd writes its login record for sessions
// with one) and checks the audit log, the firewall and the hardened sshd.
func enterpriseSession(t *testing.T, vm *qemu.Machine, sshAddr, bannerAddr string) {
	t.Helper()
	if _, err := vm.WaitWithin(regexp.MustCompile(`genai-os: network iface=\S+ addr=10\.0\.2\.15/24`), time.Minute); err != nil {
		t.Fatalf("no network: %v", err)
	}
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(enterpriseSSH.signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second}
	client, err := ssh.Dial("tcp", sshAddr, cfg)
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, vm.Console())
	}
	defer client.Close()
	run := func(cmd string, pty bool) (string, error) {
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if pty {
			if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
				t.Fatal(err)
			}
		}
		out, err := s.CombinedOutput(cmd)
		return string(out), err
	}
	if out, err := run("true", true); err != nil {
		t.Fatalf("a session with a terminal: %v\n%s", err, out)
	}
	// The login, as sshd wrote it through the kernel's audit interface.
	login := regexp.MustCompile(`(?m)^type=USER_LOGIN msg=audit\([0-9.]+:[0-9]+\): .*exe="/usr/(sbin/sshd|lib/openssh/sshd-session)".*addr=10\.0\.2\.2.*res=success`)
	var log string
	for range 20 { // the daemon writes what the kernel hands it, a moment after the login
		if log, err = run("cat /var/log/audit/audit.log", false); err == nil && login.MatchString(log) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !login.MatchString(log) {
		t.Errorf("audit.log has no successful SSH login record (%v):\n%s", err, log)
	}
	if !strings.Contains(log, "type=SERVICE_START") || !strings.Contains(log, "unit=sshd") {
		t.Errorf("audit.log has no unit start of sshd:\n%s", log)
	}
	// The hardened sshd (ProtectSystem=strict): its sessions cannot write /usr or /etc.
	for _, p := range []string{"/usr/genai-test", "/etc/genai-test"} {
		if out, err := run("touch "+p, false); err == nil || !strings.Contains(out, "read-only file system") {
			t.Errorf("touch %s from an SSH session: %v %q, want a read-only file system", p, err, out)
		}
	}
	// security-dashboard sees what the edition promises (it exits 1 on any warning: the output counts).
	dash, _ := run("security-dashboard", false)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^boot\s+PASS\s+secure-boot\s`),
		regexp.MustCompile(`(?m)^boot\s+PASS\s+lockdown\s+integrity`),
		regexp.MustCompile(`(?m)^boot\s+PASS\s+verity-root\s+the root's \d+ layers are read through dm-verity`),
		// sshd's bounding set has no CAP_NET_ADMIN, which reading nftables needs: its sessions
		// cannot see the ruleset, and the dashboard says why.
		regexp.MustCompile(`(?m)^firewall\s+WARN\s+packet filter\s+netfilter loaded \(nf_tables\) but its rules are unreadable here \(this process lacks CAP_NET_ADMIN`),
		regexp.MustCompile(`(?m)^audit\s+PASS\s+audit\s+genai-auditd runs`),
	} {
		if !want.MatchString(dash) {
			t.Errorf("security-dashboard does not match %s:\n%s", want, dash)
		}
	}
	// The service on 8080 runs, and the firewall keeps it from the network.
	if out, err := run("consciousness-manager status banner.service", false); err != nil || !strings.Contains(out, "running") {
		t.Fatalf("banner.service is not running (%v):\n%s", err, out)
	}
	if got := readBanner(bannerAddr, 5*time.Second); strings.Contains(got, "HELLO-8080") {
		t.Errorf("tcp/8080 answered %q through the firewall", got)
	}
}

// TestEnterpriseCmdlineExtra: systemd-stub appends SMBIOS io.systemd.stub.kernel-cmdline-extra to
// the signed command line even under Secure Boot; whoever controls the firmware's tables could ask
// for init.debug's root shell that way. The init compares the command line with the one signed into
// its initramfs and halts, honouring none of it.
func TestEnterpriseCmdlineExtra(t *testing.T) {
	needQEMU(t)
	res := enterpriseISO(t)
	_, vars := testOrg.keys(t, "GenAI Test Org")
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.SecureBoot, Vars: vars, Media: qemu.CD,
		Extra: []string{"-smbios", "type=11,value=io.systemd.stub.kernel-cmdline-extra=init.debug"}}, 8*time.Minute)
	line, err := vm.WaitFor(regexp.MustCompile(`genai-os: failed reason=cmdline .*`))
	if err != nil {
		t.Fatalf("no refusal: %v\n%s", err, vm.Console())
	}
	if !strings.Contains(line, `added \"init.debug\"`) {
		t.Errorf("refusal %q does not name the added word init.debug", line)
	}
	if _, err := vm.WaitWithin(regexp.MustCompile(`genai-os: (ready|init.debug)`), 15*time.Second); err == nil {
		t.Fatalf("the boot went on:\n%s", vm.Console())
	}
}

// TestEnterpriseRefused: what the firmware must not boot. A UKI with one byte changed, a UKI signed
// with another organisation's key, and the genuine image under firmware that trusts only
// Microsoft's keys: each is refused before Linux starts.
func TestEnterpriseRefused(t *testing.T) {
	needQEMU(t)
	res := enterpriseISO(t)
	_, vars := testOrg.keys(t, "GenAI Test Org")

	// One byte of the signed command line changed, in a copy of the ISO: the UKI's .cmdline is the
	// only place where the command line is written with spaces between its words.
	tampered := filepath.Join(t.TempDir(), "tampered.iso")
	iso, err := os.ReadFile(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	cmdline := []byte(strings.Join(res.ManifestData.Cmdline, " "))
	at := bytes.Index(iso, cmdline)
	if at < 0 || bytes.Count(iso, cmdline) != 1 {
		t.Fatalf("the signed command line %q is in the ISO %d times, want once", cmdline, bytes.Count(iso, cmdline))
	}
	iso[at+len(cmdline)-1] ^= 0x01
	if err := os.WriteFile(tampered, iso, 0o644); err != nil {
		t.Fatal(err)
	}

	// The same edition signed by another organisation's db key.
	otherDir, _ := otherOrg.keys(t, "Other Org")
	other := buildISO(t, "enterprise-other-key", build.Options{Edition: "enterprise", Keys: otherDir, SSHKeys: []string{enterpriseSSH.authorized},
		ExtraOverlays: []string{filepath.Join(root, "test/boot/testdata/firewall")}})

	for _, c := range []struct {
		name  string
		image string
		vars  string // "": Microsoft's keys only (Debian's OVMF_VARS_4M.ms.fd)
	}{
		{"tampered-uki", tampered, vars},
		{"other-key", other.Image, vars},
		{"microsoft-keys", res.Image, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			vm := startVM(t, qemu.Config{Image: c.image, Firmware: qemu.SecureBoot, Vars: c.vars, Media: qemu.CD}, 5*time.Minute)
			if _, err := vm.WaitFor(refusedLine); err != nil {
				t.Fatalf("the firmware did not refuse the image: %v\n%s", err, vm.Console())
			}
			// Refusal is final: the firmware falls through to its other boot options, none of
			// which starts Linux.
			if _, err := vm.WaitWithin(kernelStarted, 20*time.Second); err == nil {
				t.Fatalf("Linux started after the refusal:\n%s", vm.Console())
			}
		})
	}
}
