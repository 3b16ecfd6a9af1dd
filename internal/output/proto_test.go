package output

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/genai-os/genai-build/internal/bootmenu"
)

func TestProto(t *testing.T) {
	src := os.Getenv("PROTO_ISO")
	if src == "" {
		t.Skip()
	}
	dir := "/tmp/h1"
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := iso9660.Read(file.New(f, true), 0, 0, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/boot/vmlinuz", "/boot/initrd.img", "/boot/grub/grub.cfg"} {
		r, err := fsys.OpenFile(p, os.O_RDONLY)
		if err != nil {
			t.Fatal(p, err)
		}
		b, _ := io.ReadAll(r)
		os.WriteFile(dir+"/"+p[len("/boot/"):][0:len(p)-len("/boot/")], b, 0o644)
	}
	c := &Chain{Base: "proto", Title: "proto\n", VolumeID: "PROTO", Kernel: dir + "/vmlinuz", Initrd: dir + "/initrd.img",
		Menu: bootmenu.Menu{SerialUnit: 0, SerialBaud: 115200, Entries: []bootmenu.Entry{{ID: "x", Cmdline: []string{"console=ttyS0,115200"}}}},
		Loaders:    map[string]string{RoleShim: "/root/.cache/genai-build/stages/debian-files/e3a2def2eb9d64b87402e99f4db0f0c4039ee9a0ef6b90a013858a5ab92d203b/shimx64.efi", RoleDiskGRUB: dir + "/grub/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"},
		SourceDate: time.Unix(1700000000, 0), BuildID: "proto"}
	ws, err := diskImage{}.Write(context.Background(), c, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(ws)
}
