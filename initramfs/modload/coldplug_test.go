package modload

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"*", "", true},
		{"*", "a/b:c", true}, // unlike path.Match, '*' crosses '/'
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a**c", "ac", true},
		{"?", "x", true},
		{"?", "", false},
		{"a?c", "abc", true},
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[a-c]x", "bx", true},
		{"[!a-c]x", "dx", true},
		{"[!a-c]x", "bx", false},
		{"[^a-c]", "b", false},
		{"[]]", "]", true},
		{"[!]]", "]", false},
		{"[a-]", "-", true},
		{"[", "[", true}, // malformed bracket: a literal '['
		{"a[", "a[", true},
		{`\*`, "*", true},
		{`\*`, "x", false},
		{"*[0-9]", "abc7", true},
		{"*[0-9]", "abc", false},
		// Real aliases from Debian's 6.12 kernel against QEMU's devices.
		{"pci:v00008086d00002922sv*sd*bc*sc*i*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", true},
		{"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", true},
		{"pci:v*d*sv*sd*bc01sc06i01*", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i00", false},
		{"virtio:d00000001v*", "virtio:d00000001v00001AF4", true},
		{"virtio:d00000002v*", "virtio:d00000001v00001AF4", false},
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", true},
		{"usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*", "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", true},
		{"scsi:t_0x05*", Normalize("scsi:t-0x05"), true},
	} {
		if got := Match(tc.pat, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"scsi:t-0x05*":   "scsi:t_0x05*",
		"acpi*:[A-Z]-x*": "acpi*:[A-Z]_x*",
		"plain":          "plain",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAlias(t *testing.T) {
	as, err := ParseAlias("modules.alias", strings.NewReader(
		"# c\nalias pci:v*d*sv*sd*bc01sc06i01* ahci\nalias scsi:t-0x05* sr-mod\nbad line\n"))
	if err == nil || !strings.Contains(err.Error(), "modules.alias:4:") {
		t.Errorf("bad line: %v", err)
	}
	if len(as) != 2 || as[0].Module != "ahci" || as[1] != (Alias{"scsi:t_0x05*", "sr_mod"}) {
		t.Errorf("aliases = %+v", as)
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"/lib/modules/6.12/kernel/drivers/usb/host/xhci-pci.ko":     "xhci_pci",
		"/lib/modules/6.12/kernel/drivers/net/virtio_net.ko.xz":     "virtio_net",
		"/lib/modules/6.12/kernel/drivers/usb/common/usb-common.ko": "usb_common",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeSys writes a /sys/devices tree with the given modaliases (device path -> modalias).
func fakeSys(t *testing.T, devs map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "sys", "devices")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for dev, alias := range devs {
		d := filepath.Join(root, dev)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "modalias"), []byte(alias+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "uevent"), []byte("MODALIAS="+alias+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The modules of the server edition (a subset), as the builder lists them, with their aliases.
var (
	m       = func(n string) string { return "/lib/modules/6.12/kernel/" + n + ".ko" }
	srvMods = []string{m("scsi_common"), m("scsi_mod"), m("libata"), m("libahci"), m("ahci"), m("cdrom"),
		m("sr_mod"), m("isofs"), m("ata_piix"), m("failover"), m("net_failover"), m("virtio_net"), m("e1000"),
		m("usb-common"), m("usbcore"), m("xhci-hcd"), m("xhci-pci"), m("usb-storage")}
	srvDeps = map[string][]string{
		m("scsi_mod"): {m("scsi_common")}, m("libata"): {m("scsi_mod")}, m("libahci"): {m("libata")},
		m("ahci"): {m("libahci"), m("libata")}, m("sr_mod"): {m("cdrom"), m("scsi_mod"), m("scsi_common")},
		m("ata_piix"): {m("libata")}, m("net_failover"): {m("failover")}, m("virtio_net"): {m("net_failover")},
		m("usbcore"): {m("usb-common")}, m("xhci-hcd"): {m("usbcore")}, m("xhci-pci"): {m("xhci-hcd"), m("usbcore")},
		m("usb-storage"): {m("usbcore"), m("scsi_mod")},
	}
	// usbcore and xhci_hcd have no alias here: like libraries, they always load.
	srvAliases = `alias pci:v*d*sv*sd*bc01sc06i01* ahci
alias scsi:t-0x05* sr_mod
alias pci:v00008086d00007010sv*sd*bc*sc*i* ata_piix
alias virtio:d00000001v* virtio_net
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci
alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage
`
)

func names(paths []string) string {
	var n []string
	for _, p := range paths {
		n = append(n, ModuleName(p))
	}
	return strings.Join(n, " ")
}

func TestSelect(t *testing.T) {
	aliases, err := ParseAlias("modules.alias", strings.NewReader(srvAliases))
	if err != nil {
		t.Fatal(err)
	}
	q35 := map[string]string{
		"pci0000:00/0000:00:1f.2":                 "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", // AHCI
		"pci0000:00/0000:00:02.0":                 "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", // virtio-net-pci
		"pci0000:00/0000:00:02.0/virtio0":         "virtio:d00000001v00001AF4",
		"pci0000:00/0000:00:1f.2/ata1/host0/t0/x": "scsi:t-0x05",
		"platform/serial8250":                     "platform:serial8250",
	}
	for _, tc := range []struct {
		name    string
		devs    map[string]string
		load    string
		skipped string
	}{
		{"q35 with a CD and virtio-net", q35,
			"scsi_common scsi_mod libata libahci ahci cdrom sr_mod isofs failover net_failover virtio_net usb_common usbcore xhci_hcd",
			"ata_piix e1000 xhci_pci usb_storage"},
		{"no devices: only modules with no alias", map[string]string{},
			"scsi_common scsi_mod libata libahci cdrom isofs failover net_failover usb_common usbcore xhci_hcd",
			"ahci sr_mod ata_piix virtio_net e1000 xhci_pci usb_storage"},
		{"an xHCI controller", map[string]string{"pci0000:00/0000:00:04.0": "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30"},
			"scsi_common scsi_mod libata libahci cdrom isofs failover net_failover usb_common usbcore xhci_hcd xhci_pci",
			"ahci sr_mod ata_piix virtio_net e1000 usb_storage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			devs, err := Modaliases(fakeSys(t, tc.devs))
			if err != nil {
				t.Fatal(err)
			}
			if len(devs) != len(tc.devs) {
				t.Errorf("Modaliases found %d, want %d: %q", len(devs), len(tc.devs), devs)
			}
			load, skipped := Select(srvMods, srvDeps, aliases, devs)
			if got := names(load); got != tc.load {
				t.Errorf("load:\n got %s\nwant %s", got, tc.load)
			}
			if got := names(skipped); got != tc.skipped {
				t.Errorf("skipped:\n got %s\nwant %s", got, tc.skipped)
			}
		})
	}
}

func TestModaliasesMissingDir(t *testing.T) {
	if _, err := Modaliases(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("want an error for a missing /sys/devices")
	}
}

// TestColdplugRounds: loading the xHCI driver brings a USB stick's interface, which needs usb-storage.
func TestColdplugRounds(t *testing.T) {
	aliases, err := ParseAlias("modules.alias", strings.NewReader(srvAliases))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	loaded := map[string]bool{}
	var order []string
	scans := 0
	c := Coldplug{Mods: srvMods, Deps: srvDeps, Aliases: aliases, Parallel: 4,
		Scan: func() ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			scans++
			devs := []string{"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30"}
			if loaded["xhci_pci"] {
				devs = append(devs, "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00")
			}
			return devs, nil
		},
		Load: func(_ context.Context, p string) error {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range srvDeps[p] {
				if !loaded[ModuleName(d)] {
					t.Errorf("%s loaded before its dependency %s", ModuleName(p), ModuleName(d))
				}
			}
			loaded[ModuleName(p)] = true
			order = append(order, ModuleName(p))
			return nil
		},
	}
	res, skipped, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !loaded["usb_storage"] || !loaded["xhci_pci"] || loaded["ahci"] {
		t.Errorf("loaded %v", order)
	}
	if len(res) != len(order) {
		t.Errorf("%d results for %d loads", len(res), len(order))
	}
	if got := names(skipped); got != "ahci sr_mod ata_piix virtio_net e1000" {
		t.Errorf("skipped %s", got)
	}
	if scans != 3 {
		t.Errorf("%d scans, want 3 (start, after xhci round, after usb-storage round)", scans)
	}
}

// A dependency that failed in an earlier round fails its users in later ones without a try.
func TestColdplugDepFailedEarlier(t *testing.T) {
	aliases, _ := ParseAlias("a", strings.NewReader(srvAliases))
	var tried []string
	c := Coldplug{Mods: srvMods, Deps: srvDeps, Aliases: aliases, Parallel: 1,
		Scan: func() ([]string, error) {
			return []string{"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30",
				"usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00"}, nil
		},
		Load: func(_ context.Context, p string) error {
			tried = append(tried, ModuleName(p))
			if ModuleName(p) == "usbcore" {
				return os.ErrInvalid
			}
			return nil
		},
	}
	res, _, _ := c.Run(context.Background())
	for _, n := range tried {
		if n == "xhci_pci" || n == "usb_storage" {
			t.Errorf("%s tried although usbcore failed", n)
		}
	}
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
		}
	}
	if failed != 4 { // usbcore, xhci_hcd, xhci_pci, usb_storage
		t.Errorf("%d failed, want 4: %+v", failed, res)
	}
}
