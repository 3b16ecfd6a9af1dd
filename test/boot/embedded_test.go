package boot_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/bundle"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/release"
)

// embeddedImage is the embedded edition as `genai-build image --edition embedded` builds it.
func embeddedImage(t *testing.T) *build.Result {
	return buildISO(t, "embedded", build.Options{Edition: "embedded", UpdateKey: updateKeys(t)})
}

// updateKeys is the tests' update key pair (genai-build update-key init), made once.
func updateKeys(t *testing.T) string {
	t.Helper()
	testKeys.once.Do(func() {
		testKeys.dir, testKeys.err = os.MkdirTemp("", "genai-update-keys-*")
		if testKeys.err == nil {
			_, testKeys.err = bundle.GenerateKey(testKeys.dir, false)
		}
	})
	if testKeys.err != nil {
		t.Fatal(testKeys.err)
	}
	return testKeys.dir
}

var testKeys struct {
	once sync.Once
	dir  string
	err  error
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
	rows, err := release.BootRows("embedded", []string{"disk-image"})
	if err != nil {
		t.Fatal(err)
	}
	// the slot A partition as the init names it, on each bus
	slotA := map[qemu.Media]string{qemu.Virtio: "vda2", qemu.NVMe: "nvme0n1p2", qemu.SATA: "sda2", qemu.USB: "sda2"}
	// the boots wrote to snapshots: the image is as built (checked when every row has booted)
	t.Cleanup(func() {
		f, err := os.Open(res.Image)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Error(err)
			return
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != res.SHA256 {
			t.Errorf("the image changed during the boots: sha256 %s, built %s", got, res.SHA256)
		}
	})
	for _, row := range rows {
		// named as genai-build release --tested looks for them (release.BootRow.TestName)
		t.Run(row.Name(), func(t *testing.T) {
			t.Parallel()
			cfg, err := row.Config(res)
			if err != nil {
				t.Fatal(err)
			}
			r, err := qemu.Boot(context.Background(), cfg, qemu.Watch{Ready: ready, Timeout: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			console := string(r.Console)
			if m := grubLine.FindStringSubmatch(console); m == nil || m[0] != "genai-grub: slot=A trial=none left=0" {
				t.Errorf("GRUB's line = %q, want genai-grub: slot=A trial=none left=0", m)
			}
			sb := map[qemu.Firmware]string{qemu.UEFI: "off", qemu.SecureBoot: "on"}[row.Firmware]
			if !strings.Contains(console, "genai-os: boot firmware=uefi secureboot="+sb) {
				t.Errorf("the init did not report firmware=uefi secureboot=%s", sb)
			}
			// the kernel is quiet; the init reports the lockdown Secure Boot put it in
			if row.Firmware == qemu.SecureBoot && !strings.Contains(console, "genai-os: security secureboot=on lockdown=integrity") {
				t.Error("the init did not report secureboot=on lockdown=integrity")
			}
			if want := "genai-os: live medium dev=" + slotA[row.Media] + " "; !strings.Contains(console, want) || !strings.Contains(console, "fs=iso9660") {
				t.Errorf("the init did not find its layers on slot A (%q ... fs=iso9660)", want)
			}
			sm := ready.FindStringSubmatch(r.ReadyLine)
			if sm[3] != sm[4] {
				t.Errorf("services=%s/%s, want all up: %s", sm[3], sm[4], r.ReadyLine)
			}
			t.Logf("%s: ready after %.1fs wall (%s), image sha256=%s: %s", row.Name(), r.ReadyAt.Seconds(), r.Accel, res.SHA256, r.ReadyLine)
		})
	}
}

// TestEmbeddedGRUBTrial runs the ESP's grub.cfg on real firmware (OVMF, Secure Boot) with a boot
// state set from the host through internal/ab, and reads back what GRUB's save_env wrote: a trial
// counts down and boots the trial slot, used-up tries go back to the committed slot, and a trial
// slot without a kernel falls back to the committed one in the same boot.
func TestEmbeddedGRUBTrial(t *testing.T) {
	needQEMU(t)
	res := embeddedImage(t)
	for _, tt := range []struct {
		name    string
		env     ab.Env
		fillB   bool   // copy slot A's bytes into slot B
		line    string // GRUB's line
		slotDev string // where the init must find its layers; "": either slot (both hold this build)
		after   ab.Env // the state GRUB left on the ESP
		torn    bool   // grubenv (the first copy) is garbage: grubenv2 decides, the init repairs grubenv
	}{
		{"trial counts down", ab.Env{Active: ab.A, Trial: ab.B, Left: 3}, true,
			"genai-grub: slot=B trial=B left=2", "", ab.Env{Active: ab.A, Trial: ab.B, Left: 2}, false},
		{"tries used up", ab.Env{Active: ab.A, Trial: ab.B, Left: 0}, true,
			"genai-grub: slot=A trial=none left=0", "vda2", ab.Env{Active: ab.A}, false},
		// GRUB falls back to A in the same boot; the init on A sees the trial's slot did not boot
		// and ends the trial (reason=fallback) before its ready line
		{"fallback from an empty slot", ab.Env{Active: ab.A, Trial: ab.B, Left: 1}, false,
			"genai-grub: slot=B trial=B left=0", "vda2", ab.Env{Active: ab.A}, false},
		{"torn first copy", ab.Env{Active: ab.A, Trial: ab.B, Left: 2}, true,
			"genai-grub: slot=B trial=B left=1", "", ab.Env{Active: ab.A, Trial: ab.B, Left: 1}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := filepath.Join(t.TempDir(), "disk.img")
			copyDiskImage(t, res.Image, img, tt.fillB)
			setBootState(t, img, tt.env)
			if tt.torn {
				tearFirstCopy(t, img)
			}
			r, err := qemu.Boot(context.Background(), qemu.Config{Image: img, Firmware: qemu.SecureBoot, Media: qemu.Virtio, CPUs: 1, Writable: true},
				qemu.Watch{Ready: readyLine("embedded"), Timeout: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			console := string(r.Console)
			if m := grubLine.FindString(console); m != tt.line {
				t.Errorf("GRUB's line = %q, want %q", m, tt.line)
			}
			live := regexp.MustCompile(`genai-os: live medium dev=(\S+)`).FindStringSubmatch(console)
			switch {
			case live == nil:
				t.Error("no live medium line")
			case tt.slotDev != "" && live[1] != tt.slotDev:
				t.Errorf("the init found its layers on %s, want %s", live[1], tt.slotDev)
			default:
				t.Logf("%s: the init found its layers on %s", tt.line, live[1])
			}
			if tt.torn {
				// GRUB decided by grubenv2 and wrote only it (seen in a boot without our init);
				// the init repaired grubenv from it before its ready line
				envs, errs := openStore(t, img).Copies()
				if errs[0] != nil || errs[1] != nil || envs[0] != tt.after || envs[1] != tt.after {
					t.Errorf("after the boot: grubenv %+v (%v), grubenv2 %+v (%v); want both %+v", envs[0], errs[0], envs[1], errs[1], tt.after)
				}
				return
			}
			if got := bootState(t, img); got != tt.after {
				t.Errorf("boot state after the boot = %+v, want %+v", got, tt.after)
			}
		})
	}
}

// espRange is where the ESP (GPT partition 1) lies in a disk image.
func espRange(t *testing.T, img string) (start, size int64) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := gpt.Read(file.New(f, true), 512, 512)
	if err != nil {
		t.Fatal(err)
	}
	p := table.Partitions[0]
	if p.Name != ab.ESPName {
		t.Fatalf("partition 1 is %q, want %s", p.Name, ab.ESPName)
	}
	return p.GetStart(), p.GetSize()
}

// openStore opens the boot state on the image's ESP, closed when the test ends.
func openStore(t *testing.T, img string) *ab.Store {
	t.Helper()
	start, size := espRange(t, img)
	s, err := ab.OpenStoreAt(img, start, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func setBootState(t *testing.T, img string, e ab.Env) {
	t.Helper()
	if err := openStore(t, img).Write(e); err != nil {
		t.Fatal(err)
	}
}

// tearFirstCopy overwrites grubenv's first sector with garbage, as a write cut by a power loss
// might leave it. The copies are the ESP's only sector-aligned environment blocks; grubenv is
// written first, so its cluster comes first.
func tearFirstCopy(t *testing.T, img string) {
	t.Helper()
	start, size := espRange(t, img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	esp := make([]byte, size)
	if _, err := f.ReadAt(esp, start); err != nil {
		t.Fatal(err)
	}
	for off := 0; off+512 <= len(esp); off += 512 {
		if strings.HasPrefix(string(esp[off:off+64]), "# GRUB Environment Block\n") {
			if _, err := f.WriteAt([]byte(strings.Repeat("\xff", 512)), start+int64(off)); err != nil {
				t.Fatal(err)
			}
			if _, errs := openStore(t, img).Copies(); errs[0] == nil || errs[1] != nil {
				t.Fatalf("tore the block at %d, but the copies read %v", off, errs)
			}
			return
		}
	}
	t.Fatal("no environment block on the ESP")
}

func bootState(t *testing.T, img string) ab.Env {
	t.Helper()
	envs, errs := openStore(t, img).Copies()
	if errs[0] != nil || errs[1] != nil || envs[0] != envs[1] {
		t.Errorf("the two copies: %+v (%v), %+v (%v); want both valid and equal", envs[0], errs[0], envs[1], errs[1])
	}
	return envs[0]
}

// copyDiskImage copies src to dst; with fillB, slot B (partition 3) gets slot A's bytes.
func copyDiskImage(t *testing.T, src, dst string, fillB bool) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if fillB {
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		table, err := gpt.Read(file.New(f, true), 512, 512)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		a, b := table.Partitions[1], table.Partitions[2]
		copy(data[b.GetStart():b.GetStart()+b.GetSize()], data[a.GetStart():a.GetStart()+a.GetSize()])
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
