package kmod

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// mod makes a Module from "name: dep dep ; pre: soft" shorthand.
func mod(spec string) Module {
	name, rest, _ := strings.Cut(spec, ":")
	deps, soft, _ := strings.Cut(rest, ";")
	m := Module{Path: "kernel/x/" + strings.TrimSpace(name) + ".ko.xz", Info: ModInfo{Name: strings.TrimSpace(name)}}
	m.Info.Depends = strings.Fields(deps)
	if s, ok := strings.CutPrefix(strings.TrimSpace(soft), "pre:"); ok {
		m.Info.SoftDepsPre = strings.Fields(s)
	}
	return m
}

// The chains FACTS.md lists for Debian's 6.12 kernel, with virtio modular as on kernels where
// VIRTIO_PCI=m (on 6.12 it, and so virtio and virtio_ring, are built in).
var debianish = []Module{
	mod("scsi_common:"), mod("scsi_mod: scsi_common"), mod("libata: scsi_mod"),
	mod("libahci: libata"), mod("ahci: libahci libata"), mod("cdrom:"), mod("sr_mod: cdrom scsi_mod"),
	mod("isofs:"), mod("usb-common:"), mod("usbcore: usb-common"), mod("xhci-hcd: usbcore"),
	mod("xhci-pci: xhci-hcd usbcore"), mod("usb-storage: usbcore scsi_mod"), mod("sd_mod: scsi_mod"),
	mod("virtio_ring:"), mod("virtio: virtio_ring"), mod("virtio_pci: virtio virtio_ring"),
	mod("virtio_blk: virtio virtio_ring"), mod("failover:"), mod("net_failover: failover"),
	mod("virtio_net: net_failover virtio virtio_ring"), mod("crc32c_generic:"), mod("libcrc32c: ; pre: crc32c"),
	mod("ext4: mbcache jbd2 ; pre: crc32c"), mod("mbcache:"), mod("jbd2:"),
	mod("cyc_a: cyc_b"), mod("cyc_b: cyc_c"), mod("cyc_c: cyc_a"), mod("needs_cyc: cyc_a"),
	mod("broken: nosuch"),
	{Path: "kernel/fs/squashfs/squashfs.ko.xz"}, // no name= in .modinfo
}

func names(ms []Module) []string {
	var out []string
	for _, m := range ms {
		n := m.Info.Name
		if n == "" {
			n = NameFromPath(m.Path)
		}
		out = append(out, n)
	}
	return out
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		ask     []string
		builtin []string
		want    []string
		err     string
	}{
		{"cd", []string{"sr_mod", "ahci", "isofs"}, nil,
			[]string{"cdrom", "isofs", "scsi_common", "scsi_mod", "libata", "libahci", "ahci", "sr_mod"}, ""},
		{"usb with dashes and underscores", []string{"usb_storage", "xhci_pci", "sd-mod"}, nil,
			[]string{"scsi_common", "scsi_mod", "sd_mod", "usb-common", "usbcore", "usb-storage", "xhci-hcd", "xhci-pci"}, ""},
		{"virtio_ring first", []string{"virtio_net", "virtio_blk"}, nil,
			[]string{"failover", "net_failover", "virtio_ring", "virtio", "virtio_blk", "virtio_net"}, ""},
		{"virtio built in", []string{"virtio_blk", "virtio_pci"}, []string{"virtio", "virtio_ring", "virtio_pci"},
			[]string{"virtio_blk"}, ""},
		// crc32c is not in the index (crc32c_generic is), so ext4's softdep is skipped silently.
		{"softdep pre absent", []string{"ext4"}, nil, []string{"jbd2", "mbcache", "ext4"}, ""},
		{"each once", []string{"ahci", "ahci", "libata"}, nil, []string{"scsi_common", "scsi_mod", "libata", "libahci", "ahci"}, ""},
		{"name from path", []string{"squashfs"}, nil, []string{"squashfs"}, ""},
		{"nothing", nil, nil, nil, ""},
		{"unknown, all listed", []string{"usb_storag", "ahci", "zzzz"}, nil, nil,
			"unknown kernel modules: usb_storag (did you mean usb_storage?), zzzz"},
		{"unknown dependency", []string{"broken"}, nil, nil, "unknown kernel module: nosuch (needed by broken)"},
		{"cycle", []string{"needs_cyc"}, nil, nil, "kernel module dependency cycle: cyc_a -> cyc_b -> cyc_c -> cyc_a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := NewIndex(debianish)
			ix.AddBuiltin(tt.builtin...)
			got, err := ix.Resolve(tt.ask)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := names(got); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("got  %v\nwant %v", g, tt.want)
			}
		})
	}
}

func TestResolveSoftdepIncluded(t *testing.T) {
	ix := NewIndex([]Module{mod("crc32c:"), mod("libcrc32c: ; pre: crc32c"), mod("zz_first:")})
	got, err := ix.Resolve([]string{"libcrc32c"})
	must(t, err)
	if g := names(got); !reflect.DeepEqual(g, []string{"crc32c", "libcrc32c"}) {
		t.Errorf("got %v", g)
	}
}

// TestResolveOrderInvariant checks the load-order property on every module of the index that
// resolves: each module comes after everything it depends on, and exactly once.
func TestResolveOrderInvariant(t *testing.T) {
	ix := NewIndex(debianish)
	for _, m := range debianish {
		got, err := ix.Resolve([]string{NameFromPath(m.Path)})
		if err != nil {
			continue
		}
		pos := map[string]int{}
		for i, g := range got {
			k := Canonical(g.Info.Name)
			if _, dup := pos[k]; dup {
				t.Errorf("%s twice", k)
			}
			pos[k] = i
		}
		for i, g := range got {
			for _, d := range g.Info.Depends {
				if j, ok := pos[Canonical(d)]; !ok || j > i {
					t.Errorf("resolving %s: %s at %d before its dependency %s", m.Info.Name, g.Info.Name, i, d)
				}
			}
		}
	}
}

func TestResolveErrorTypes(t *testing.T) {
	ix := NewIndex(debianish)
	_, err := ix.Resolve([]string{"cyc_b"})
	var ce *CycleError
	if !errors.As(err, &ce) || len(ce.Cycle) != 4 {
		t.Errorf("err = %v, want a *CycleError of 3 modules", err)
	}
	_, err = ix.Resolve([]string{"nvme", "virtio-blk"})
	var ue *UnknownModulesError
	if !errors.As(err, &ue) || len(ue.Unknown) != 1 || ue.Unknown[0].Name != "nvme" {
		t.Errorf("err = %v, want nvme unknown", err)
	}
}

func TestParseBuiltin(t *testing.T) {
	got, err := ParseBuiltin(strings.NewReader("kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_pci.ko\n\nkernel/drivers/tty/serial/8250/8250.ko\n"))
	must(t, err)
	if want := []string{"virtio", "virtio_pci", "8250"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"usb_storag", "usb_storage", 1}, {"kitten", "sitting", 3}} {
		if d := editDistance(tt.a, tt.b); d != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}
