package kmod

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/genai-os/genai-build/internal/debtest"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// makeModule is a .ko with the .modinfo entries kv.
func makeModule(t testing.TB, kv ...string) []byte { return debtest.KernelModule(t, kv...) }

func xzBytes(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&b)
	must(t, err)
	_, err = w.Write(data)
	must(t, err)
	must(t, w.Close())
	return b.Bytes()
}

func zstdBytes(t testing.TB, data []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	must(t, err)
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

func gzipBytes(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write(data)
	must(t, err)
	must(t, w.Close())
	return b.Bytes()
}

var virtioBlk = []string{
	"alias=virtio:d00000002v*",
	"depends=virtio,virtio_ring",
	"license=GPL",
	"name=virtio_blk",
	"vermagic=6.12.48+deb13-amd64 SMP preempt mod_unload modversions ",
	"intree=Y",
	"parm=queue_depth:uint",
}

func TestReadModInfo(t *testing.T) {
	defer func(old int) { maxModuleSize = old }(maxModuleSize)
	maxModuleSize = 1 << 20
	ko := makeModule(t, virtioBlk...)
	want := ModInfo{
		Name:     "virtio_blk",
		Depends:  []string{"virtio", "virtio_ring"},
		Aliases:  []string{"virtio:d00000002v*"},
		License:  "GPL",
		Vermagic: "6.12.48+deb13-amd64 SMP preempt mod_unload modversions ",
	}
	tests := []struct {
		name string
		data []byte
		want ModInfo
		err  string
	}{
		{"ko", ko, want, ""},
		{"ko.xz", xzBytes(t, ko), want, ""},
		{"ko.zst", zstdBytes(t, ko), want, ""},
		{"ko.gz", gzipBytes(t, ko), want, ""},
		{"softdep and empty depends", makeModule(t, "name=ext4", "depends=", "softdep=pre: crc32c post: foo bar", "softdep=pre: jbd2", "alias=fs-ext4", "alias=ext3"),
			ModInfo{Name: "ext4", Aliases: []string{"fs-ext4", "ext3"}, SoftDepsPre: []string{"crc32c", "jbd2"}, SoftDepsPost: []string{"foo", "bar"}}, ""},
		{"softdep junk before marker", makeModule(t, "name=a", "softdep=x pre: b"), ModInfo{Name: "a", SoftDepsPre: []string{"b"}}, ""},
		{"no name", makeModule(t, "license=GPL"), ModInfo{License: "GPL"}, ""},
		{"dashes kept as written", makeModule(t, "name=usb_storage", "depends=usb-common,usbcore"),
			ModInfo{Name: "usb_storage", Depends: []string{"usb-common", "usbcore"}}, ""},
		{"no modinfo", debtest.ELF(t, debtest.Section{Name: ".text", Data: []byte{0xc3}}), ModInfo{}, "no .modinfo"},
		{"not elf", []byte("hello"), ModInfo{}, "not an ELF"},
		{"xz of non-elf", xzBytes(t, []byte("hello")), ModInfo{}, "not an ELF"},
		{"truncated elf", ko[:40], ModInfo{}, "reading ELF"},
		{"truncated xz", xzBytes(t, ko)[:30], ModInfo{}, "decompressing"},
		{"empty", nil, ModInfo{}, "not an ELF"},
		{"too big", xzBytes(t, append(append([]byte(nil), ko...), make([]byte, 2<<20)...)), ModInfo{}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadModInfo(tt.data)
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

func TestNameFromPath(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/usb/storage/usb-storage.ko.xz": "usb_storage",
		"kernel/drivers/block/virtio_blk.ko":           "virtio_blk",
		"x/nvme.ko.zst":                                "nvme",
		"x/e1000e.ko.gz":                               "e1000e",
	} {
		if got := NameFromPath(in); got != want {
			t.Errorf("NameFromPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadModInfoReal reads real modules of the host's kernel, when it has any.
func TestReadModInfoReal(t *testing.T) {
	paths, _ := filepath.Glob("/lib/modules/*/kernel/drivers/block/*.ko*")
	if len(paths) == 0 {
		t.Skip("no kernel modules under /lib/modules on this host")
	}
	for _, p := range paths[:min(len(paths), 5)] {
		data, err := os.ReadFile(p)
		must(t, err)
		mi, err := ReadModInfo(data)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if mi.Name != NameFromPath(p) || mi.Vermagic == "" {
			t.Errorf("%s: %+v", p, mi)
		}
	}
}

func FuzzReadModInfo(f *testing.F) {
	ko := makeModule(f, virtioBlk...)
	f.Add(ko)
	f.Add(xzBytes(f, ko))
	f.Add(zstdBytes(f, ko))
	f.Add(makeModule(f, "name=a", "softdep=pre: b post: c", "depends=d,e"))
	f.Add([]byte("\x7fELF"))
	maxModuleSize = 1 << 20 // a 256 MiB decompression bomb takes seconds; 1 MiB shows the same code
	f.Fuzz(func(t *testing.T, data []byte) {
		mi, err := ReadModInfo(data)
		if err != nil {
			return
		}
		for _, d := range mi.Depends {
			if d == "" || strings.Contains(d, ",") {
				t.Errorf("bad depends entry %q", d)
			}
		}
	})
}
