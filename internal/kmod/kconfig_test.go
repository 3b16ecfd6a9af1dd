package kmod

import (
	"reflect"
	"strings"
	"testing"
)

const kernelConfig = `#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.12.48 Kernel Configuration
#
CONFIG_CC_VERSION_TEXT="gcc (Debian 14.2.0-19) 14.2.0"
CONFIG_64BIT=y
CONFIG_DEVTMPFS=y
# CONFIG_DEVTMPFS_MOUNT is not set
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=m
CONFIG_HZ=250
CONFIG_PHYSICAL_START=0x1000000
CONFIG_LOCALVERSION="a \"quoted\" word"

# end of General setup
`

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, in string
		want     Config
		err      string
	}{
		{"debian-like", kernelConfig, Config{
			"CONFIG_CC_VERSION_TEXT": `"gcc (Debian 14.2.0-19) 14.2.0"`, "CONFIG_64BIT": "y", "CONFIG_DEVTMPFS": "y",
			"CONFIG_DEVTMPFS_MOUNT": "n", "CONFIG_VIRTIO_PCI": "y", "CONFIG_VIRTIO_BLK": "m", "CONFIG_HZ": "250",
			"CONFIG_PHYSICAL_START": "0x1000000", "CONFIG_LOCALVERSION": `"a \"quoted\" word"`,
		}, ""},
		{"later wins", "CONFIG_A=y\nCONFIG_A=m\n", Config{"CONFIG_A": "m"}, ""},
		{"crlf and spaces", "CONFIG_A=y\r\n  \r\n", Config{"CONFIG_A": "y"}, ""},
		{"empty", "", Config{}, ""},
		{"no equals", "CONFIG_A=y\nCONFIG_B\n", nil, "line 2: "},
		{"not CONFIG_", "FOO=y\n", nil, `line 1: "FOO" is not a CONFIG_ option name`},
		{"bad value", "CONFIG_A=yes\n", nil, `line 1: CONFIG_A: invalid value "yes"`},
		{"unterminated string", "CONFIG_A=\"abc\n", nil, "invalid value"},
		{"empty value", "CONFIG_A=\n", nil, "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
	cfg, err := ParseConfig(strings.NewReader(kernelConfig))
	must(t, err)
	if v := cfg.Value("CONFIG_NOT_THERE"); v != "n" {
		t.Errorf("absent option = %q, want n", v)
	}
}

const baseFragment = `# What every edition's kernel must have.
CONFIG_DEVTMPFS=y

CONFIG_VIRTIO_BLK=y|m
# CONFIG_MODULE_SIG_FORCE is not set
CONFIG_HZ=250|1000
CONFIG_SQUASHFS=m
`

func TestParseRequirements(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Requirement
		err      string
	}{
		{"base", baseFragment, []Requirement{
			{Option: "CONFIG_DEVTMPFS", Allowed: []string{"y"}, File: "kconfig/base.config", Line: 2},
			{Option: "CONFIG_VIRTIO_BLK", Allowed: []string{"y", "m"}, File: "kconfig/base.config", Line: 4},
			{Option: "CONFIG_MODULE_SIG_FORCE", Allowed: []string{"n"}, File: "kconfig/base.config", Line: 5},
			{Option: "CONFIG_HZ", Allowed: []string{"250", "1000"}, File: "kconfig/base.config", Line: 6},
			{Option: "CONFIG_SQUASHFS", Allowed: []string{"m"}, File: "kconfig/base.config", Line: 7},
		}, ""},
		{"empty", "\n# nothing\n", nil, ""},
		{"duplicate", "CONFIG_A=y\n\nCONFIG_A=m\n", nil, "kconfig/base.config:3: CONFIG_A already required on line 1"},
		{"duplicate not set", "CONFIG_A=y\n# CONFIG_A is not set\n", nil, "kconfig/base.config:2: CONFIG_A already required"},
		{"empty alternative", "CONFIG_A=y|\n", nil, `kconfig/base.config:1: CONFIG_A: invalid value ""`},
		{"n as value", "CONFIG_A=n\n", nil, `kconfig/base.config:1: CONFIG_A: write "# CONFIG_A is not set"`},
		{"bad value", "\n\nCONFIG_A=Y\n", nil, `kconfig/base.config:3: CONFIG_A: invalid value "Y"`},
		{"no equals", "CONFIG_A y\n", nil, "kconfig/base.config:1: "},
		{"bad name", "CONFIG_=y\n", nil, "kconfig/base.config:1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequirements("kconfig/base.config", strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(kernelConfig))
	must(t, err)
	tests := []struct {
		name, frag string
		want       []string
	}{
		{"met", baseFragment[:strings.Index(baseFragment, "CONFIG_SQUASHFS")], nil},
		{"all kinds", `CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_VIRTIO_PCI=m
# CONFIG_VIRTIO_BLK is not set
CONFIG_EROFS_FS=y|m
# CONFIG_NOT_THERE is not set
CONFIG_HZ=1000
`, []string{
			"kconfig/base.config:2: CONFIG_DEVTMPFS_MOUNT=y required, kernel has it not set",
			"kconfig/base.config:3: CONFIG_VIRTIO_PCI=m required, kernel has CONFIG_VIRTIO_PCI=y",
			"kconfig/base.config:4: CONFIG_VIRTIO_BLK must not be set, kernel has CONFIG_VIRTIO_BLK=m",
			"kconfig/base.config:5: CONFIG_EROFS_FS=y|m required, kernel has it not set",
			"kconfig/base.config:7: CONFIG_HZ=1000 required, kernel has CONFIG_HZ=250",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs, err := ParseRequirements("kconfig/base.config", strings.NewReader(tt.frag))
			must(t, err)
			var got []string
			for _, v := range Check(cfg, reqs) {
				got = append(got, v.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	// Got is "not set", not "n", so callers can print it as it is.
	v := Check(Config{}, []Requirement{{Option: "CONFIG_A", Allowed: []string{"y"}}})
	if len(v) != 1 || v[0].Got != "not set" {
		t.Errorf("Check on an empty config = %+v", v)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(kernelConfig)
	f.Add("CONFIG_A=\"\\\"\"\n# CONFIG_B is not set\n")
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := ParseConfig(strings.NewReader(in))
		if err != nil {
			return
		}
		for k, v := range cfg {
			if !validOption(k) || !validValue(v) {
				t.Errorf("accepted %q=%q", k, v)
			}
		}
	})
}

func FuzzParseRequirements(f *testing.F) {
	f.Add(baseFragment)
	f.Add("CONFIG_A=y|m|\n")
	f.Fuzz(func(t *testing.T, in string) {
		reqs, err := ParseRequirements("f.config", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.config") {
				t.Errorf("error without file name: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, q := range reqs {
			if seen[q.Option] || len(q.Allowed) == 0 || q.Line < 1 || q.File != "f.config" {
				t.Errorf("bad requirement %+v", q)
			}
			seen[q.Option] = true
		}
		// A config made of exactly the first alternative of each requirement meets them all.
		cfg := Config{}
		for _, q := range reqs {
			cfg[q.Option] = q.Allowed[0]
		}
		if v := Check(cfg, reqs); len(v) != 0 {
			t.Errorf("violations on a config built from the requirements: %v", v)
		}
	})
}
