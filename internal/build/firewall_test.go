package build

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/firewall"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/fstree"
)

func TestFirewallConf(t *testing.T) {
	on := true
	tree := func() *fstree.Tree {
		tr := fstree.New()
		for p, body := range map[string]string{
			"etc/consciousness/services/sshd.socket":  "[Socket]\nListenStream=22\n",
			"etc/consciousness/services/web.socket":   "[Socket]\nListenStream=127.0.0.1:8443\nListenStream=/run/web.sock\n",
			"etc/consciousness/services/web.service":  "[Service]\nExecStart=/bin/true\n",
			"etc/consciousness/services/other.socket": "[Socket]\nListenStream=[::]:22\n",
		} {
			if err := tr.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: []byte(body)}); err != nil {
				t.Fatal(err)
			}
		}
		return tr
	}
	read := func(tr *fstree.Tree) firewall.Config {
		e, ok := tr.Get(firewallConfPath)
		if !ok {
			t.Fatal("no firewall.conf")
		}
		c, err := firewall.Parse("firewall.conf", bytes.NewReader(e.Data))
		if err != nil {
			t.Fatalf("%s: %v", e.Data, err)
		}
		return c
	}

	s := &state{ed: &edition.Edition{Name: "ent", Firewall: edition.Firewall{Enabled: &on, AllowTCP: []int{22, 9000}, AllowUDP: []int{53}}}}
	tr := tree()
	if err := s.addFirewallConf(tr); err != nil {
		t.Fatal(err)
	}
	want := firewall.Config{Enabled: true, Allow: []firewall.Port{{Proto: "tcp", Num: 22}, {Proto: "tcp", Num: 8443}, {Proto: "tcp", Num: 9000}, {Proto: "udp", Num: 53}}}
	if got := read(tr); !slices.Equal(got.Allow, want.Allow) || !got.Enabled {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if mods := s.kernelModules(); !slices.Contains(mods, "nf_tables") || !slices.Contains(mods, "nft_ct") || !slices.Contains(mods, "crc32c_generic") {
		t.Errorf("firewall on, modules %v", mods)
	}

	// Off (no firewall: section): the file says so, with no ports; no modules added.
	s = &state{ed: &edition.Edition{Name: "server", Kernel: edition.Kernel{Modules: []string{"e1000"}}}}
	tr = tree()
	if err := s.addFirewallConf(tr); err != nil {
		t.Fatal(err)
	}
	if got := read(tr); got.Enabled || len(got.Allow) != 0 {
		t.Errorf("off: %+v", got)
	}
	if mods := s.kernelModules(); !slices.Equal(mods, []string{"e1000"}) {
		t.Errorf("firewall off, modules %v", mods)
	}

	// An overlay does not write the firewall's file.
	tr = tree()
	_ = tr.Add(fstree.Entry{Path: firewallConfPath, Kind: fstree.File, Mode: 0o644, Data: []byte("enabled = no\n"), Origin: "overlay:x"})
	if err := s.addFirewallConf(tr); err == nil || !strings.Contains(err.Error(), "overlay:x") {
		t.Errorf("overlay's firewall.conf: %v", err)
	}
}
