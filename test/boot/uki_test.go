package boot_test

import (
	"bytes"
	"debug/pe"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/efivars"
	"github.com/genai-os/genai-build/internal/esp"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/pesign"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/sbkeys"
	"github.com/genai-os/genai-build/internal/uki"
	"github.com/genai-os/genai-build/internal/uki/ukitest"
)

// OVMF refuses an image Secure Boot does not allow with EFI_ACCESS_DENIED or
// EFI_SECURITY_VIOLATION; BdsDxe prints the status on the console
// ("BdsDxe: failed to load Boot0001 ...: Access Denied").
var refusedLine = regexp.MustCompile(`Access Denied|Security Violation`)

// secureBootLines are the kernel's words on Secure Boot, logged for the record.
var secureBootLines = regexp.MustCompile(`(?m)^.*(?:[Ss]ecure ?[Bb]oot|[Ll]ockdown|locked down|X\.509 cert).*$`)

// kernelStarted is the kernel's first line: a refused image never gets there.
var kernelStarted = regexp.MustCompile(`Linux version`)

// TestUKISecureBoot is the own-keys chain of trust end to end, in pure Go: a key set is made, its
// certificates enrolled into a copy of OVMF's variable store, the server's kernel and initramfs
// assembled with systemd-stub into a UKI, signed with the db key and booted from a FAT ESP as
// EFI/BOOT/BOOTX64.EFI by OVMF with Secure Boot on. It must reach the ready line; a UKI with one
// byte changed, one signed by another key, and the good one under OVMF with only Microsoft's keys
// must all be refused by the firmware before the kernel starts.
func TestUKISecureBoot(t *testing.T) {
	needQEMU(t)
	const template = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatalf("%v: install OVMF (Debian: apt-get install ovmf)", err)
	}
	res := buildISO(t, "server+kernel-initrd", build.Options{Edition: "server", Outputs: []string{"kernel-initrd"}})
	var kernel, initrd []byte
	for _, im := range res.Images {
		switch im.Format {
		case "vmlinuz":
			kernel = readFile(t, im.Path)
		case "initrd":
			initrd = readFile(t, im.Path)
		}
	}
	if kernel == nil || initrd == nil {
		t.Fatalf("kernel-initrd wrote %+v, want a kernel and an initramfs", res.Images)
	}
	// The edition's command line without "quiet", so that a kernel that starts says so.
	cmdline := slices.DeleteFunc(slices.Clone(res.ManifestData.Cmdline), func(s string) bool { return s == "quiet" })
	if !slices.Contains(cmdline, "console=ttyS0,115200") {
		cmdline = append(cmdline, "console=ttyS0,115200")
	}
	t.Logf("kernel %s, .cmdline %q", res.ManifestData.Kernel, strings.Join(cmdline, " "))

	stub := ukitest.Stub(t)
	keys, err := sbkeys.Generate("GenAI Test Org")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sbkeys.Generate("Other Org")
	if err != nil {
		t.Fatal(err)
	}
	vars, err := efivars.Enroll(tmpl, keys.PK.Cert, keys.KEK.Cert, keys.DB.Cert)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ownVars := filepath.Join(dir, "OVMF_VARS_4M.enrolled.fd")
	if err := os.WriteFile(ownVars, vars, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := uki.Assemble(stub, []uki.Section{
		{Name: ".osrel", Data: []byte("NAME=\"GenAI OS\"\nID=genai\nVERSION_ID=" + res.ManifestData.Version + "\n")},
		{Name: ".cmdline", Data: []byte(strings.Join(cmdline, " "))},
		{Name: ".uname", Data: []byte(res.ManifestData.Kernel)},
		{Name: ".initrd", Data: initrd},
		{Name: ".linux", Data: kernel},
	}, sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := pesign.Sign(img, keys.DB)
	if err != nil {
		t.Fatal(err)
	}
	if err := pesign.Verify(signed, keys.DB.Cert); err != nil {
		t.Fatal(err)
	}
	t.Logf("UKI %d bytes, signed %d", len(img), len(signed))

	boot := func(t *testing.T, efi []byte, vars string) *qemu.Machine {
		t.Helper()
		tr := fstree.New()
		if err := tr.Add(fstree.Entry{Path: "EFI/BOOT/BOOTX64.EFI", Kind: fstree.File, Mode: 0o644, Data: efi, Size: int64(len(efi))}); err != nil {
			t.Fatal(err)
		}
		fat, err := esp.Build(tr, sourceDate)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "esp.img")
		if err := os.WriteFile(path, fat, 0o644); err != nil {
			t.Fatal(err)
		}
		return startVM(t, qemu.Config{Image: path, Firmware: qemu.SecureBoot, Media: qemu.USB, Vars: vars,
			StateDir: t.TempDir()}, 15*time.Minute)
	}
	refused := func(t *testing.T, efi []byte, vars string) {
		t.Helper()
		m := boot(t, efi, vars)
		line, err := m.Find(refusedLine, 10*time.Minute)
		if err != nil {
			t.Fatalf("the firmware did not refuse the image: %v\n%s", err, m.Console())
		}
		t.Logf("firmware: %s", strings.TrimSpace(line))
		if kernelStarted.Match(m.Console()) {
			t.Fatalf("the kernel started:\n%s", m.Console())
		}
	}

	t.Run("own-keys", func(t *testing.T) {
		m := boot(t, signed, ownVars)
		line, err := m.Find(ready, 12*time.Minute)
		if err != nil {
			t.Fatalf("no ready line: %v\n%s", err, m.Console())
		}
		t.Logf("%s (after %s)", strings.TrimSpace(line), m.Elapsed().Round(time.Second))
		for _, want := range []string{"Linux version", "Secure boot enabled", "Loaded X.509 cert 'GenAI Test Org db"} {
			if !bytes.Contains(m.Console(), []byte(want)) {
				t.Errorf("no %q on the console", want)
			}
		}
		for _, l := range secureBootLines.FindAll(m.Console(), -1) {
			t.Logf("console: %s", bytes.TrimSpace(l))
		}
	})
	t.Run("one-byte-changed", func(t *testing.T) {
		f, err := pe.NewFile(bytes.NewReader(signed))
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(signed)
		bad[f.Section(".cmdline").Offset] ^= 0x20 // "console=" -> "Console="
		refused(t, bad, ownVars)
	})
	t.Run("other-key", func(t *testing.T) {
		byOther, err := pesign.Sign(img, other.DB)
		if err != nil {
			t.Fatal(err)
		}
		refused(t, byOther, ownVars)
	})
	t.Run("microsoft-keys", func(t *testing.T) {
		refused(t, signed, "") // OVMF_VARS_4M.ms.fd: Microsoft's keys only
	})
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
