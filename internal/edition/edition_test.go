package edition

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func fp(f float64) *float64 { return &f }
func ip(i int) *int         { return &i }
func bp(b bool) *bool       { return &b }

func TestMerge(t *testing.T) {
	parent := Edition{
		Name: "base", Abstract: true, Description: "base", Version: "1.0", Arch: "amd64",
		Kernel:    Kernel{Recipe: "kernel", Config: []string{"base"}, Modules: []string{"ahci", "e1000"}},
		Recipes:   []string{"init", "u-root"},
		Overlays:  []string{"base"},
		Boot:      Boot{Hostname: "genai", Level: fp(0.7), Timeout: ip(2), Cmdline: []string{"quiet"}},
		Outputs:   []string{"iso"},
		Root:      Root{Placement: "image", Tmpfs: "50%"},
		Assistant: Assistant{Endpoint: "http://10.0.2.2:11434/v1", Model: "small"},
	}
	tests := []struct {
		name  string
		child Edition
		check func(t *testing.T, got Edition)
	}{
		{"scalars inherited when unset", Edition{Name: "server"}, func(t *testing.T, got Edition) {
			if got.Version != "1.0" || got.Arch != "amd64" || got.Kernel.Recipe != "kernel" || got.Boot.Hostname != "genai" {
				t.Errorf("scalars not inherited: %+v", got)
			}
			if got.Boot.LevelOr(-1) != 0.7 || got.Boot.TimeoutOr(-1) != 2 {
				t.Errorf("pointer scalars not inherited: %+v", got.Boot)
			}
			if got.Root != (Root{Placement: "image", Tmpfs: "50%"}) {
				t.Errorf("root not inherited: %+v", got.Root)
			}
		}},
		{"root verity inherited, and turned off by a child", Edition{Name: "s"}, func(t *testing.T, got Edition) {
			p := Merge(parent, Edition{Name: "v", Root: Root{Verity: bp(true), OnCorruption: "panic"}})
			if c := Merge(p, Edition{Name: "c"}); !c.Root.VerityOn() || c.Root.OnCorruption != "panic" {
				t.Errorf("verity not inherited: %+v", c.Root)
			}
			if c := Merge(p, Edition{Name: "c", Root: Root{Verity: bp(false)}}); c.Root.VerityOn() {
				t.Errorf("verity: false did not override: %+v", c.Root)
			}
			if got.Root.VerityOn() {
				t.Errorf("verity on without being asked: %+v", got.Root)
			}
		}},
		{"session autologin inherited, and turned off by a child", Edition{Name: "s"}, func(t *testing.T, got Edition) {
			if !got.Session.AutologinOn() {
				t.Errorf("autologin off without being asked: %+v", got.Session)
			}
			p := Merge(parent, Edition{Name: "d", Session: Session{Autologin: bp(false)}})
			if c := Merge(p, Edition{Name: "c"}); c.Session.AutologinOn() {
				t.Errorf("autologin: false not inherited: %+v", c.Session)
			}
			if c := Merge(p, Edition{Name: "c", Session: Session{Autologin: bp(true)}}); !c.Session.AutologinOn() {
				t.Errorf("autologin: true did not override: %+v", c.Session)
			}
		}},
		{"assistant merged field by field", Edition{Name: "s", Assistant: Assistant{Model: "big"}}, func(t *testing.T, got Edition) {
			if got.Assistant != (Assistant{Endpoint: "http://10.0.2.2:11434/v1", Model: "big"}) {
				t.Errorf("assistant = %+v", got.Assistant)
			}
		}},
		{"root placement overridden", Edition{Name: "s", Root: Root{Placement: "initramfs"}, Outputs: []string{"kernel-initrd"}}, func(t *testing.T, got Edition) {
			if got.Root.PlacementOr() != PlacementInitramfs || got.Root.Tmpfs != "50%" {
				t.Errorf("root = %+v", got.Root)
			}
			if want := []string{"iso", "kernel-initrd"}; !reflect.DeepEqual(got.Outputs, want) {
				t.Errorf("outputs = %v, want %v", got.Outputs, want)
			}
		}},
		{"scalars overridden", Edition{Name: "s", Version: "2.0", Boot: Boot{Hostname: "srv", Level: fp(0), Timeout: ip(0)}}, func(t *testing.T, got Edition) {
			if got.Version != "2.0" || got.Boot.Hostname != "srv" {
				t.Errorf("not overridden: %+v", got)
			}
			// An explicit zero overrides: level 0 and timeout 0 are meaningful values.
			if got.Boot.LevelOr(-1) != 0 || got.Boot.TimeoutOr(-1) != 0 {
				t.Errorf("explicit zero lost: %+v", got.Boot)
			}
		}},
		{"lists appended once in order", Edition{Name: "s", Recipes: []string{"ssh", "init"}, Kernel: Kernel{Modules: []string{"nvme", "ahci"}}}, func(t *testing.T, got Edition) {
			if want := []string{"init", "u-root", "ssh"}; !reflect.DeepEqual(got.Recipes, want) {
				t.Errorf("recipes = %v, want %v", got.Recipes, want)
			}
			if want := []string{"ahci", "e1000", "nvme"}; !reflect.DeepEqual(got.Kernel.Modules, want) {
				t.Errorf("modules = %v, want %v", got.Kernel.Modules, want)
			}
		}},
		{"remove takes parent entries away", Edition{Name: "s", Remove: Removals{Modules: []string{"e1000"}, Recipes: []string{"u-root"}, Cmdline: []string{"quiet"}}}, func(t *testing.T, got Edition) {
			if want := []string{"ahci"}; !reflect.DeepEqual(got.Kernel.Modules, want) {
				t.Errorf("modules = %v, want %v", got.Kernel.Modules, want)
			}
			if want := []string{"init"}; !reflect.DeepEqual(got.Recipes, want) {
				t.Errorf("recipes = %v, want %v", got.Recipes, want)
			}
			if len(got.Boot.Cmdline) != 0 {
				t.Errorf("cmdline = %v, want empty", got.Boot.Cmdline)
			}
			if !reflect.DeepEqual(got.Remove, Removals{}) {
				t.Errorf("remove is carried into the result: %+v", got.Remove)
			}
		}},
		{"abstract is not inherited", Edition{Name: "s"}, func(t *testing.T, got Edition) {
			if got.Abstract {
				t.Error("child became abstract")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, Merge(parent, tt.child)) })
	}
}

// repo makes a throwaway repository root with the given editions and the folders they refer to.
func repo(t *testing.T, editions map[string]string) Set {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"editions", "recipes", "kconfig", "overlays/base"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"recipes/kernel.yaml": "", "recipes/init.yaml": "", "kconfig/base.config": ""} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range editions {
		if err := os.WriteFile(filepath.Join(root, "editions", name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Set{Dir: filepath.Join(root, "editions")}
}

const goodBase = `name: base
abstract: true
version: 1.0
arch: amd64
kernel:
  recipe: kernel
  config: [base]
recipes: [init]
overlays: [base]
outputs: [iso]
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		editions map[string]string
		load     string
		want     []string // substrings of the error, all required
	}{
		{"unknown edition lists the known ones", map[string]string{"base": goodBase, "server": "name: server\nextends: base\n"},
			"desktop", []string{`unknown edition "desktop"`, "known editions: base, server"}},
		{"unknown field names file and line", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nkernel:\n  modules: [ahci]\n  modulez: [x]\n"},
			"server", []string{"server.yaml:5:", `"modulez" is not a known field of Kernel`}},
		{"wrong type names file and line", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nrecipes: init\n"},
			"server", []string{"server.yaml:3:"}},
		{"every problem at once", map[string]string{"base": goodBase, "server": `name: server
extends: base
version: "not a version"
recipes: [init, nosuch]
overlays: [missing]
boot:
  level: 1.5
  hostname: Bad_Host
outputs: [iso, floppy]
`}, "server", []string{
			"server.yaml:3: version:", "server.yaml:4: recipes[1]: no recipe \"nosuch\"",
			"server.yaml:5: overlays[0]: no overlay folder overlays/missing/", "server.yaml:7: boot.level: 1.5 is outside",
			"server.yaml:8: boot.hostname:", "server.yaml:9: outputs[1]: unknown output format \"floppy\""}},
		{"root placement and tmpfs", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nroot:\n  placement: disk\n  tmpfs: lots\n"},
			"server", []string{"server.yaml:4: root.placement: \"disk\": use initramfs or image",
				"server.yaml:5: root.tmpfs: only a root on the medium"}},
		{"verity needs placement image", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nroot:\n  verity: true\n  on_corruption: restart\n"},
			"server", []string{"server.yaml:4: root.verity: only a root on the medium",
				"server.yaml:5: root.on_corruption: only with root.verity: true and placement: image"}},
		{"on_corruption needs verity", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nroot:\n  placement: image\n  on_corruption: eio\n"},
			"server", []string{"server.yaml:5: root.on_corruption: only with root.verity: true"}},
		{"on_corruption values", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nroot:\n  placement: image\n  verity: true\n  on_corruption: ignore\n"},
			"server", []string{"server.yaml:6: root.on_corruption: \"ignore\": use one of eio, restart, panic"}},
		{"tmpfs size", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nroot:\n  placement: image\n  tmpfs: 50 %\n"},
			"server", []string{"server.yaml:5: root.tmpfs: \"50 %\": a size as tmpfs takes it"}},
		{"outputs are the registry's", map[string]string{"base": goodBase, "server": "name: server\nextends: base\noutputs: [uki]\n"},
			"server", []string{"server.yaml:3: outputs[0]: unknown output format \"uki\"; known: disk-image, iso, kernel-initrd"}},
		{"problem found in the parent points at the parent", map[string]string{"base": strings.Replace(goodBase, "arch: amd64", "arch: sparc", 1), "server": "name: server\nextends: base\n"},
			"server", []string{"base.yaml:4: arch: \"sparc\" is not supported"}},
		{"name must match the file", map[string]string{"base": goodBase, "server": "name: srv\nextends: base\n"},
			"server", []string{"server.yaml:1: name:", "does not match"}},
		{"unknown parent", map[string]string{"server": "name: server\nextends: nope\n"},
			"server", []string{"server.yaml:2: extends: unknown edition \"nope\""}},
		{"extends loop", map[string]string{"a": "name: a\nextends: b\n", "b": "name: b\nextends: a\n"},
			"a", []string{"extends chain loops: a -> b -> a"}},
		{"assistant settings", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nassistant:\n  endpoint: ftp://x/v1\n  model: a b\n  api_key_file: key.txt\n"},
			"server", []string{"server.yaml:4: assistant.endpoint: \"ftp://x/v1\": want an http:// or https:// URL",
				"server.yaml:5: assistant.model:", "server.yaml:6: assistant.api_key_file: \"key.txt\": want an absolute path"}},
		{"assistant model without endpoint", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nassistant:\n  model: m\n"},
			"server", []string{"assistant.endpoint: missing"}},
		{"not yaml", map[string]string{"server": "name: [\n"}, "server", []string{"server.yaml:"}},
		{"disk settings", map[string]string{"base": goodBase, "server": "name: server\nextends: base\noutputs: [disk-image]\ndisk:\n  slot_size: 48 MB\n  tries: 10\n"},
			"server", []string{"server.yaml:5: disk.slot_size: \"48 MB\": a size in MiB or GiB", "server.yaml:6: disk.tries: 10: want 1 to 9"}},
		{"disk settings without a disk image", map[string]string{"base": goodBase, "server": "name: server\nextends: base\ndisk:\n  tries: 2\n"},
			"server", []string{"server.yaml:3: disk: only an edition with the disk-image output"}},
		{"session shortcuts", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nsession:\n  welcome: true\n  shortcuts:\n    - keys: Super+Return\n    - does: x\n"},
			"server", []string{"server.yaml:6: session.shortcuts[0]: each shortcut needs keys and does", "server.yaml:7: session.shortcuts[1]:"}},
		{"session shortcuts without the page", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nsession:\n  shortcuts:\n    - {keys: Super+b, does: a browser}\n"},
			"server", []string{"server.yaml:4: session.shortcuts: shortcuts are shown on the welcome page"}},
		{"no autologin and nobody to log in", map[string]string{"base": goodBase, "server": "name: server\nextends: base\nusers:\n  - name: root\n    password_hash: $6$x$y\n  - name: genai\nsession:\n  autologin: false\n"},
			"server", []string{"server.yaml:8: session.autologin: false needs a user who can log in to start the session"}},
		{"disk key unknown", map[string]string{"base": goodBase, "server": "name: server\nextends: base\noutputs: [disk-image]\ndisk:\n  slots: 2\n"},
			"server", []string{"server.yaml:5:", "slots"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := repo(t, tt.editions).Load(tt.load)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadUnknownEditionType(t *testing.T) {
	_, err := repo(t, map[string]string{"base": goodBase}).Load("x")
	var ue *UnknownEditionError
	if !errors.As(err, &ue) || !reflect.DeepEqual(ue.Known, []string{"base"}) {
		t.Fatalf("err = %v, want *UnknownEditionError with known [base]", err)
	}
}

// TestRepositoryEditions loads every edition of the repository: the shipped manifests must be valid.
func TestRepositoryEditions(t *testing.T) {
	set := Set{Dir: filepath.Join("..", "..", "editions")}
	names, err := set.Names()
	if err != nil || len(names) == 0 {
		t.Fatalf("Names = %v, %v", names, err)
	}
	for _, n := range names {
		e, err := set.Load(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if n == "server" {
			if e.Abstract || e.Version == "" || e.Kernel.Recipe != "kernel" || len(e.Kernel.Modules) == 0 || e.Boot.Hostname != "genai-server" {
				t.Errorf("server edition merged wrong: %+v", e)
			}
			if len(e.Chain) != 2 {
				t.Errorf("server chain = %v, want server and base", e.Chain)
			}
		}
		if n == "embedded" {
			if !reflect.DeepEqual(e.Outputs, []string{"disk-image"}) || e.Disk.SlotSizeBytes() != 48<<20 || e.Disk.TriesOr() != 3 ||
				slices.Contains(e.Recipes, "isolinux") || !slices.Contains(e.Recipes, "uefi-loaders") || e.Root.PlacementOr() != PlacementImage {
				t.Errorf("embedded edition merged wrong: outputs %v, disk %+v, recipes %v, placement %q", e.Outputs, e.Disk, e.Recipes, e.Root.Placement)
			}
		}
	}
}

func TestDiskDefaults(t *testing.T) {
	three, two := 3, 2
	for _, tt := range []struct {
		d     Disk
		size  int64
		tries int
	}{
		{Disk{}, 48 << 20, 3},
		{Disk{SlotSize: "64M", Tries: &two}, 64 << 20, 2},
		{Disk{SlotSize: "1G", Tries: &three}, 1 << 30, 3},
		{Disk{SlotSize: "64"}, 0, 3},
	} {
		if got := tt.d.SlotSizeBytes(); got != tt.size {
			t.Errorf("%+v: SlotSizeBytes = %d, want %d", tt.d, got, tt.size)
		}
		if got := tt.d.TriesOr(); got != tt.tries {
			t.Errorf("%+v: TriesOr = %d, want %d", tt.d, got, tt.tries)
		}
	}
	// a child's disk settings override the parent's, one key at a time
	m := Merge(Edition{Disk: Disk{SlotSize: "64M", Tries: &two}}, Edition{Disk: Disk{SlotSize: "32M"}})
	if m.Disk.SlotSize != "32M" || m.Disk.Tries == nil || *m.Disk.Tries != 2 {
		t.Errorf("Merge disk = %+v", m.Disk)
	}
}
