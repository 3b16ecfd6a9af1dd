package boot_test

import (
	"bytes"
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

// enterpriseSSH is the key the enterprise test image lets root log in with.
var enterpriseSSH struct {
	once       sync.Once
	signer     ssh.Signer
	authorized string
}

// enterpriseISO is the enterprise edition as `genai-build iso --edition enterprise --keys DIR
// --ssh-key KEY --overlay test/boot/testdata/enterprise` builds it, signed with the test
// organisation's db key.
func enterpriseISO(t *testing.T) *build.Result {
	t.Helper()
	enterpriseSSH.once.Do(func() { enterpriseSSH.signer, enterpriseSSH.authorized = testKey(t) })
	dir, _ := testOrg.keys(t, "GenAI Test Org")
	return buildISO(t, "enterprise", build.Options{Edition: "enterprise", Keys: dir, SSHKeys: []string{enterpriseSSH.authorized},
		ExtraOverlays: []string{filepath.Join(root, "test/boot/testdata/enterprise")}})
}

// TestEnterprise boots the enterprise ISO under OVMF with the organisation's keys enrolled and
// Secure Boot on, from a CD and from a USB stick, and checks what the init reports: Secure Boot on,
// the kernel in integrity lockdown, every layer of the root read through dm-verity, the firewall
// up, and then the whole system ready.
func TestEnterprise(t *testing.T) {
	needQEMU(t)
	res := enterpriseISO(t)
	_, vars := testOrg.keys(t, "GenAI Test Org")
	for _, media := range []qemu.Media{qemu.CD, qemu.USB} {
		t.Run(string(media), func(t *testing.T) {
			t.Parallel()
			vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.SecureBoot, Vars: vars, Media: media}, 8*time.Minute)
			line, err := vm.WaitFor(readyLine("enterprise"))
			if err != nil {
				t.Fatalf("no ready line: %v\n%s", err, vm.Console())
			}
			t.Log(line)
			console := string(vm.Console())
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`genai-os: security secureboot=on lockdown=integrity`),
				regexp.MustCompile(`genai-os: verity on layers=` + strconv.Itoa(len(res.Layers)) + ` on_corruption=eio`),
				regexp.MustCompile(`genai-os: firewall on input=drop allow=tcp/22\b`),
			} {
				if !want.MatchString(console) {
					t.Errorf("console lacks %s:\n%s", want, console)
				}
			}
		})
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
		ExtraOverlays: []string{filepath.Join(root, "test/boot/testdata/enterprise")}})

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
