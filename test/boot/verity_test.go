package boot_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

// verityEdition is the server with its root on the medium, each layer under dm-verity, and the
// modules the init needs for it listed as the contract has them (dm-bufio and reed_solomon would
// come as dm-verity's dependencies anyway). verityOffEdition is the same without verity: the
// measurement's baseline.
const (
	verityEdition    = "server-verity"
	verityOffEdition = "server-verity-off"
	verityYAML       = `# test/boot: the server edition with a verified root on the medium.
name: server-verity
extends: server
description: Headless server, root in SquashFS layers on the medium under dm-verity
root:
  placement: image
  verity: true
kernel:
  modules: [dm-mod, dm-bufio, dm-verity, reed_solomon, loop, squashfs]
`
	verityOffYAML = `# test/boot: server-verity without verity, to measure what verity costs.
name: server-verity-off
extends: server-verity
description: Headless server, root in SquashFS layers on the medium, unverified
root:
  verity: false
`
)

// The canary is a file of the test overlay that the boot never reads. It is one SquashFS data
// block exactly (128 KiB, internal/squashfs DefaultBlockSize) of incompressible bytes: the writer
// stores a block that does not shrink as it is (SQUASHFS_COMPRESSED_BIT_BLOCK), so its bytes are
// in the ISO to find, and a file of whole blocks has no tail in a (compressed) fragment block,
// where a smaller canary would land.
const (
	canaryPath = "usr/share/genai/canary.bin"
	canarySize = 128 << 10
	otherPath  = "usr/share/genai/other.txt"
	otherText  = "a file of the same layer that is not corrupted"
)

// canary is SHA-256 of a label and a counter, block after block.
func canary() []byte {
	var out []byte
	var ctr [8]byte
	for i := uint64(0); len(out) < canarySize; i++ {
		binary.LittleEndian.PutUint64(ctr[:], i)
		s := sha256.Sum256(append([]byte("genai-build verity canary\n"), ctr[:]...))
		out = append(out, s[:]...)
	}
	return out[:canarySize]
}

var verityEditions struct {
	once sync.Once
	dir  string
	err  error
}

// verityBuild builds edition (verityEdition or verityOffEdition) with the canary overlay, once.
func verityBuild(t *testing.T, edition string) *build.Result {
	t.Helper()
	verityEditions.once.Do(func() {
		verityEditions.dir, verityEditions.err = writeEditions(map[string]string{verityEdition: verityYAML, verityOffEdition: verityOffYAML})
	})
	if verityEditions.err != nil {
		t.Fatal(verityEditions.err)
	}
	overlay := filepath.Join(filepath.Dir(verityEditions.dir), "verity-overlay")
	for p, data := range map[string][]byte{canaryPath: canary(), otherPath: []byte(otherText + "\n")} {
		if err := os.MkdirAll(filepath.Join(overlay, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(overlay, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// initramfs/dm's tests, to run in the guest: its TestVerityDevice needs root and dm-verity,
	// which the guest has and this host may not.
	if _, err := os.Stat(filepath.Join(overlay, dmTestPath)); err != nil {
		cmd := exec.Command("go", "test", "-c", "-trimpath", "-o", filepath.Join(overlay, dmTestPath), "./initramfs/dm")
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go test -c ./initramfs/dm: %v\n%s", err, out)
		}
	}
	return buildISO(t, edition, build.Options{Edition: edition, EditionsDir: verityEditions.dir, ExtraOverlays: []string{overlay}})
}

// dmTestPath is initramfs/dm's test binary in the test overlay.
const dmTestPath = "usr/lib/genai-test/dm.test"

// verityBoot boots image from a CD under BIOS with the debug entry (a root shell on the serial
// console; extra is added to its kernel command line, as ISOLINUX appends what follows the
// label), waits for the ready line and returns the machine, the time from the medium found to the
// ready line in ms, and a function that runs a shell command and returns what it printed.
func verityBoot(t *testing.T, image, edition, extra string) (*qemu.Machine, int, func(string) string) {
	t.Helper()
	m := startVM(t, qemu.Config{Image: image, Firmware: qemu.BIOS, Media: qemu.CD}, 10*time.Minute)
	if extra == "" {
		chooseDebug(t, m)
	} else {
		if err := m.Expect("boot: ", 3*time.Minute); err != nil {
			t.Fatalf("no ISOLINUX prompt: %v\n%s", err, m.Console())
		}
		if err := m.Send("debug " + extra + "\r"); err != nil {
			t.Fatal(err)
		}
	}
	ready := readyLine(edition)
	line, err := m.WaitFor(ready)
	if err != nil {
		t.Fatalf("no ready line: %v\n%s", err, m.Console())
	}
	t.Logf("%s", line)
	ms, _ := strconv.Atoi(ready.FindStringSubmatch(line)[2])
	// Stage 1's timings, for what verity costs: the medium found, the root mounted. Verity's work
	// starts when the medium is found, so ms becomes the time from there to the ready line (the
	// kernel's start up to there is the same image, and varies most with the host's load).
	for _, l := range regexp.MustCompile(`genai-os: live medium .*|root mounted, switching.*|genai-os: verity on .*`).FindAllString(string(m.Console()), -1) {
		t.Logf("%s", strings.TrimSpace(l))
	}
	found := regexp.MustCompile(`genai-os: live medium .* boot_ms=([0-9]+)`).FindStringSubmatch(string(m.Console()))
	if found == nil {
		t.Fatal("no live medium line")
	}
	f, _ := strconv.Atoi(found[1])
	t.Logf("kernel start to ready %d ms, of which medium found to ready %d ms", ms, ms-f)
	ms -= f
	if err := m.Expect("$ ", 2*time.Minute); err != nil {
		t.Fatalf("no shell prompt: %v\n%s", err, m.Console())
	}
	return m, ms, shellRunner(t, m)
}

// TestVerity builds the server with a verified root on the medium and boots it: the init reports
// every layer verified and the system is ready; the canary reads back intact. Then one byte of
// the canary is changed in a copy of the ISO: the system still boots (the canary is not read at
// boot), reading the canary fails with an I/O error, the kernel log names the very data block
// the test computed, and another file of the same layer still reads; likewise with the layers
// copied to RAM (consciousness.live.toram). A changed byte in a layer's SquashFS superblock
// stops the boot at the mount. The baseline boot without
// verity gives the cost of verity from kernel start to the ready line.
func TestVerity(t *testing.T) {
	needQEMU(t)
	res := verityBuild(t, verityEdition)
	if res.Placement != "image" || len(res.Layers) == 0 {
		t.Fatalf("placement %q, %d layers: want a root on the medium", res.Placement, len(res.Layers))
	}
	for _, l := range res.Layers {
		// The tree follows the data, padded to 4096: the whole file is a number of blocks.
		if l.Size%4096 != 0 || l.Verity == nil {
			t.Errorf("layer %s: %d bytes, verity %v: want whole 4096-byte blocks and verity parameters", l.Name, l.Size, l.Verity)
		}
	}
	verityLine := fmt.Sprintf("genai-os: verity on layers=%d on_corruption=eio", len(res.Layers))
	want := canary()
	sum := sha256.Sum256(want)

	// Where the canary is: its one occurrence in the ISO, the layer file whose extent holds it, and
	// the dm-verity data block (4096 bytes from the layer's start) of the byte the test flips.
	img, err := os.ReadFile(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(img, want)
	if at < 0 || bytes.LastIndex(img, want) != at {
		t.Fatalf("the canary is in the ISO at %d and %d: want exactly once (stored raw)", at, bytes.LastIndex(img, want))
	}
	flip := at + canarySize/2 + 123
	rep, err := iso.Inspect(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	var layer string
	var block, layerStart int64
	for _, f := range rep.Files {
		start := int64(f.LBA) * 2048
		if strings.HasPrefix(f.Path, "live/") && start <= int64(flip) && int64(flip) < start+f.Size {
			layer, block, layerStart = f.Path, (int64(flip)-start)/4096, start
		}
	}
	if layer == "" {
		t.Fatalf("byte %d of the ISO is in no file of /live", flip)
	}
	t.Logf("canary at ISO byte %d; flipping byte %d: %s, verity data block %d", at, flip, layer, block)
	tampered := filepath.Join(t.TempDir(), "tampered.iso")
	img[flip] ^= 0x01
	if err := os.WriteFile(tampered, img, 0o644); err != nil {
		t.Fatal(err)
	}
	// A second copy with the byte back and one byte of the same layer's SquashFS superblock
	// (bytes_used, offset 40) changed instead: the mount itself reads it.
	img[flip] ^= 0x01
	img[layerStart+40] ^= 0x01
	badSuper := filepath.Join(t.TempDir(), "superblock.iso")
	if err := os.WriteFile(badSuper, img, 0o644); err != nil {
		t.Fatal(err)
	}
	img = nil

	var withMs, withoutMs int
	t.Run("group", func(t *testing.T) {
		t.Run("intact", func(t *testing.T) {
			t.Parallel()
			m, ms, run := verityBoot(t, res.Image, verityEdition, "")
			withMs = ms
			checkVerityLine(t, m, verityLine)
			if out := run("shasum -a 256 /" + canaryPath); !strings.Contains(out, hex.EncodeToString(sum[:])) {
				t.Errorf("the canary's SHA-256 in the guest is not %x:\n%s", sum, out)
			}
			// initramfs/dm's device test, as root with dm-verity loaded: it must run, not skip.
			out := run("/" + dmTestPath + " -test.run TestVerityDevice -test.v")
			if !strings.Contains(out, "--- PASS: TestVerityDevice") {
				t.Errorf("initramfs/dm TestVerityDevice in the guest:\n%s", out)
			}
			t.Logf("in the guest: %s", regexp.MustCompile(`--- \w+: TestVerityDevice.*`).FindString(out))
		})
		t.Run("tampered", func(t *testing.T) {
			t.Parallel()
			m, _, run := verityBoot(t, tampered, verityEdition, "")
			checkVerityLine(t, m, verityLine)
			// u-root's md5sum reports the read's error as it is (u-root's cat hides it).
			if out := run("md5sum /" + canaryPath); !strings.Contains(out, "read /"+canaryPath+": input/output error") {
				t.Errorf("reading the tampered canary: want an I/O error, got:\n%s", out)
			}
			corrupted := regexp.MustCompile(`device-mapper: verity: (\d+:\d+): data block (\d+) is corrupted`)
			log := string(m.Console()) + run("dmesg")
			sm := corrupted.FindStringSubmatch(log)
			if sm == nil {
				t.Fatalf("the kernel log does not name a corrupted data block:\n%s", log)
			}
			t.Logf("kernel: %s", sm[0])
			if sm[2] != strconv.FormatInt(block, 10) {
				t.Errorf("the kernel names data block %s of %s, the test flipped a byte of block %d", sm[2], sm[1], block)
			}
			// The init names the layer, the device and the block too, on the console.
			name := strings.TrimSuffix(filepath.Base(layer), ".squashfs")
			initLine := regexp.MustCompile(`genai-os: verity error layer=` + regexp.QuoteMeta(name) + ` dev=` + regexp.QuoteMeta(sm[1]) +
				` block=` + strconv.FormatInt(block, 10) + ` detail=`)
			if _, err := m.Find(initLine, 15*time.Second); err != nil {
				t.Errorf("the init did not report the corrupted block (%s): %v\n%s", initLine, err, m.Console())
			}
			if out := run("cat /" + otherPath); !strings.Contains(out, otherText) {
				t.Errorf("another file of the layer does not read:\n%s", out)
			}
		})
		// toram copies the layer files, trees and all, and mounts the copies through verity: the
		// tampered canary still fails to read, from RAM, with the medium unmounted.
		t.Run("tampered-toram", func(t *testing.T) {
			t.Parallel()
			m, _, run := verityBoot(t, tampered, verityEdition, "consciousness.live.toram")
			checkVerityLine(t, m, verityLine)
			if _, err := m.Find(regexp.MustCompile(`layers copied to RAM, medium unmounted`), time.Minute); err != nil {
				t.Errorf("toram did not copy the layers: %v", err)
			}
			if out := run("md5sum /" + canaryPath); !strings.Contains(out, "read /"+canaryPath+": input/output error") {
				t.Errorf("reading the tampered canary from RAM: want an I/O error, got:\n%s", out)
			}
			if out := run("cat /" + otherPath); !strings.Contains(out, otherText) {
				t.Errorf("another file of the layer does not read:\n%s", out)
			}
		})
		// A layer that fails verification at mount stops the boot: no fallback to the
		// unverified layer, no ready line.
		t.Run("tampered-superblock", func(t *testing.T) {
			t.Parallel()
			m := startVM(t, qemu.Config{Image: badSuper, Firmware: qemu.BIOS, Media: qemu.CD}, 10*time.Minute)
			chooseDebug(t, m)
			line, err := m.WaitFor(regexp.MustCompile(`genai-os: (failed reason=\S+|ready) .*`))
			if err != nil {
				t.Fatalf("neither failed nor ready: %v\n%s", err, m.Console())
			}
			t.Logf("%s", line)
			if !strings.Contains(line, "failed reason=medium") || !strings.Contains(line, "through verity") {
				t.Errorf("want the boot failed on the medium, through verity: %s", line)
			}
			if !regexp.MustCompile(`device-mapper: verity: \d+:\d+: data block 0 is corrupted`).Match(m.Console()) {
				t.Errorf("the kernel log does not name data block 0:\n%s", m.Console())
			}
		})
		t.Run("without-verity", func(t *testing.T) {
			t.Parallel()
			off := verityBuild(t, verityOffEdition)
			m, ms, _ := verityBoot(t, off.Image, verityOffEdition, "")
			withoutMs = ms
			if strings.Contains(string(m.Console()), "genai-os: verity on") {
				t.Error("the edition without verity reports verity on")
			}
		})
	})
	if withMs > 0 && withoutMs > 0 {
		t.Logf("medium found to ready: %d ms with verity, %d ms without (%+d ms; one boot each, side by side under TCG)",
			withMs, withoutMs, withMs-withoutMs)
	}
}

// checkVerityLine: the init reported every layer verified, before the ready line.
func checkVerityLine(t *testing.T, m *qemu.Machine, line string) {
	t.Helper()
	console := string(m.Console())
	i := strings.Index(console, line+"\n")
	if i < 0 {
		i = strings.Index(console, line+"\r")
	}
	if i < 0 {
		t.Errorf("no %q on the console", line)
		return
	}
	if r := strings.Index(console, "genai-os: ready "); r >= 0 && r < i {
		t.Error("the ready line came before the verity line")
	}
}
