package boot_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// embeddedImage is the embedded edition as `genai-build image --edition embedded` builds it.
func embeddedImage(t *testing.T) *build.Result {
	return buildISO(t, "embedded", build.Options{Edition: "embedded"})
}

// grubLine is the line the ESP's grub.cfg prints before it boots a slot.
var grubLine = regexp.MustCompile(`genai-grub: slot=([AB]) trial=(none|A|B) left=([0-9])`)

// TestEmbeddedBoot boots the embedded edition's raw disk image from each bus it promises, with
// and without Secure Boot: shim and Debian's disk GRUB on the ESP read grub.cfg and the boot
// state there, boot slot A (ISO 9660 on the disk's second partition), and the init finds its
// layers on that partition. The image is written once and not changed by the boots.
func TestEmbeddedBoot(t *testing.T) {
	needQEMU(t)
	res := embeddedImage(t)
	sizes := map[string]int64{}
	for _, im := range res.Images {
		sizes[im.Format] = im.Size
	}
	// the targets: raw image ≤ 128 MB before the first boot grows it, .img.zst ≤ 40 MB
	if sizes["disk-image"] == 0 || sizes["disk-image"] > 128e6 || sizes["zstd"] == 0 || sizes["zstd"] > 40e6 {
		t.Errorf("image sizes %v: want a disk image ≤ 128 MB and its .zst ≤ 40 MB", sizes)
	}
	t.Logf("%s: raw %d bytes, .img.zst %d bytes", res.Image, sizes["disk-image"], sizes["zstd"])
	ready := readyLine("embedded")
	t.Run("boots", func(t *testing.T) {
		for _, row := range []struct {
			fw    qemu.Firmware
			media qemu.Media
			dev   string // the slot A partition as the init names it
		}{
			{qemu.SecureBoot, qemu.Virtio, "vda2"},
			{qemu.UEFI, qemu.NVMe, "nvme0n1p2"},
			{qemu.SecureBoot, qemu.SATA, "sda2"},
			{qemu.UEFI, qemu.USB, "sda2"},
		} {
			t.Run(string(row.fw)+"-"+string(row.media), func(t *testing.T) {
				t.Parallel()
				r, err := qemu.Boot(context.Background(), qemu.Config{Image: res.Image, Firmware: row.fw, Media: row.media, CPUs: 1},
					qemu.Watch{Ready: ready, Timeout: 5 * time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				console := string(r.Console)
				if m := grubLine.FindStringSubmatch(console); m == nil || m[0] != "genai-grub: slot=A trial=none left=0" {
					t.Errorf("GRUB's line = %q, want genai-grub: slot=A trial=none left=0", m)
				}
				sb := map[qemu.Firmware]string{qemu.UEFI: "off", qemu.SecureBoot: "on"}[row.fw]
				if !strings.Contains(console, "genai-os: boot firmware=uefi secureboot="+sb) {
					t.Errorf("the init did not report firmware=uefi secureboot=%s", sb)
				}
				// the kernel is quiet; the init reports the lockdown Secure Boot put it in
				if row.fw == qemu.SecureBoot && !strings.Contains(console, "genai-os: security secureboot=on lockdown=integrity") {
					t.Error("the init did not report secureboot=on lockdown=integrity")
				}
				if want := "genai-os: live medium dev=" + row.dev + " "; !strings.Contains(console, want) || !strings.Contains(console, "fs=iso9660") {
					t.Errorf("the init did not find its layers on slot A (%q ... fs=iso9660)", want)
				}
				sm := ready.FindStringSubmatch(r.ReadyLine)
				if sm[3] != sm[4] {
					t.Errorf("services=%s/%s, want all up: %s", sm[3], sm[4], r.ReadyLine)
				}
				t.Logf("%s/%s: ready after %.1fs wall (%s), image sha256=%s: %s", row.fw, row.media, r.ReadyAt.Seconds(), r.Accel, res.SHA256, r.ReadyLine)
			})
		}
	})
	// the boots wrote to snapshots: the image is as built
	f, err := os.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != res.SHA256 {
		t.Errorf("the image changed during the boots: sha256 %s, built %s", got, res.SHA256)
	}
}
