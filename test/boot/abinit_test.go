package boot_test

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	dgpt "github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/genai-os/genai-build/internal/ab/abtest"

	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
)

// abTestEdition is the server with its root on the medium, e2fsprogs (embedded-packages), ext4
// and QEMU's watchdog driver: what the init's A/B part needs, without the disk image writer.
// The test puts the edition's ISO into both slots of a GPT disk of its own and boots the ISO's
// kernel and initrd directly with genai.slot=, as GRUB would.
const abTestEdition = "ab-init-test"

const abTestEditionYAML = `# test/boot: the init's A/B part (data partition, boot state), booted directly.
name: ab-init-test
extends: server
description: Server with its root on the medium, e2fsprogs, ext4 and a watchdog driver
recipes: [embedded-packages]
kernel:
  modules: [crc32c_generic, ext4, i6300esb]
root:
  placement: image
`

var abEditions struct {
	once sync.Once
	dir  string
	err  error
}

const mib = 1 << 20

// abDisk writes a GPT disk as the contract lays it out (genai-esp with both grubenv copies,
// genai-a and genai-b holding slot, genai-data 4 MiB of zeros) on a disk of size bytes; it
// returns the image and the ESP's offset and size.
func abDisk(t *testing.T, slot []byte, env ab.Env, size int64) (img string, espOff, espSize int64) {
	t.Helper()
	img = filepath.Join(t.TempDir(), "ab.img")
	slotMiB := uint64((int64(len(slot)) + mib - 1) / mib)
	mb := uint64(mib / 512)
	esp, a := 1*mb, 9*mb
	b := a + slotMiB*mb
	data := b + slotMiB*mb
	end := data + 4*mb
	st, err := file.CreateFromPath(img, int64(end+mb)*512)
	if err != nil {
		t.Fatal(err)
	}
	tab := &dgpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true, Partitions: []*dgpt.Partition{
		{Index: 1, Start: esp, End: a - 1, Type: dgpt.EFISystemPartition, Name: ab.ESPName},
		{Index: 2, Start: a, End: b - 1, Type: dgpt.LinuxFilesystem, Name: ab.A.PartName()},
		{Index: 3, Start: b, End: data - 1, Type: dgpt.LinuxFilesystem, Name: ab.B.PartName()},
		{Index: 4, Start: data, End: end - 1, Type: dgpt.LinuxFilesystem, Name: ab.DataName},
	}}
	w, err := st.Writable()
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Write(w, int64(end+mb)*512); err != nil {
		t.Fatal(err)
	}
	espOff, espSize = int64(esp)*512, 8*mib
	espImg := abtest.ESP(t, espSize, map[string][]byte{ab.EnvPath: env.Format(), ab.EnvPath2: env.Format()})
	if _, err := w.WriteAt(espImg, espOff); err != nil {
		t.Fatal(err)
	}
	for _, at := range []uint64{a, b} {
		if _, err := w.WriteAt(slot, int64(at)*512); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	// The image written to a bigger disk: first boot grows genai-data to its end.
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	return img, espOff, espSize
}

// isoBootFiles copies an ISO's boot/vmlinuz and boot/initrd.img out, for a direct kernel boot;
// by path in the ISO.
func isoBootFiles(t *testing.T, image string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for _, p := range []string{"boot/vmlinuz", "boot/initrd.img"} {
		b, err := iso.ReadFile(image, p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = filepath.Join(dir, path.Base(p))
		if err := os.WriteFile(files[p], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func readEnv(t *testing.T, img string, off, size int64) ab.Env {
	t.Helper()
	st, err := ab.OpenStoreAt(img, off, size)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, _, err := st.Read()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func writeEnv(t *testing.T, img string, off, size int64, e ab.Env) {
	t.Helper()
	st, err := ab.OpenStoreAt(img, off, size)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Write(e); err != nil {
		t.Fatal(err)
	}
}

// TestABInit refuses the build's medium when it is not in the booted slot's partition, then boots
// a test edition from slot A of a fresh GPT disk (data partition grown and
// formatted, the slot line, a file written under /data), then as slot B on trial (/data kept, the
// watchdog armed, the checks pass: committed, and the boot state on the ESP says so).
func TestABInit(t *testing.T) {
	needQEMU(t)
	abEditions.once.Do(func() {
		abEditions.dir, abEditions.err = writeEditions(map[string]string{abTestEdition: abTestEditionYAML})
	})
	if abEditions.err != nil {
		t.Fatal(abEditions.err)
	}
	res := buildISO(t, abTestEdition, build.Options{Edition: abTestEdition, EditionsDir: abEditions.dir})
	files := isoBootFiles(t, res.Image)
	slot, err := os.ReadFile(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	const diskSize = 256 * mib
	img, espOff, espSize := abDisk(t, slot, ab.Factory, diskSize)
	version := res.ManifestData.Version

	boot := func(t *testing.T, s ab.Slot) (*qemu.Machine, func(string) string) {
		t.Helper()
		cfg := qemu.Config{Kernel: files["boot/vmlinuz"], Initrd: files["boot/initrd.img"], Net: true, MemoryMB: 1024,
			Append: strings.Join(append(res.ManifestData.Cmdline, "genai.slot="+string(s), "consciousness.test=shell"), " "),
			Extra:  []string{"-drive", "if=virtio,format=raw,file=" + img, "-device", "i6300esb"}}
		m := startVM(t, cfg, 8*time.Minute)
		if _, err := m.WaitFor(verdict); err != nil {
			t.Fatalf("no verdict: %v\n%s", err, m.Console())
		}
		if err := m.Expect("$ ", 2*time.Minute); err != nil {
			t.Fatalf("no shell: %v\n%s", err, m.Console())
		}
		return m, shellRunner(t, m)
	}
	line := func(t *testing.T, m *qemu.Machine, re string) []string {
		t.Helper()
		got := regexp.MustCompile(re).FindStringSubmatch(string(m.Console()))
		if got == nil {
			t.Fatalf("no line %s:\n%s", re, m.Console())
		}
		t.Logf("%s", got[0])
		return got
	}
	down := func(t *testing.T, m *qemu.Machine, run func(string) string) {
		t.Helper()
		run("sync")
		if err := m.Send("exit\r"); err != nil {
			t.Fatal(err)
		}
		if err := m.Wait(); err != nil {
			t.Fatalf("power off: %v\n%s", err, m.Console())
		}
	}

	// The build's medium on a CD, not in a slot: stage 1 finds it and refuses to boot it as slot A.
	t.Run("medium-not-a-slot", func(t *testing.T) {
		cfg := qemu.Config{Kernel: files["boot/vmlinuz"], Initrd: files["boot/initrd.img"],
			Append: strings.Join(append(res.ManifestData.Cmdline, "genai.slot=A", "consciousness.test=poweroff"), " "),
			Extra:  cdArgs(res.Image)}
		m := startVM(t, cfg, 6*time.Minute)
		got, err := m.WaitFor(verdict)
		if err != nil {
			t.Fatalf("no verdict: %v\n%s", err, m.Console())
		}
		t.Logf("%s", got)
		if !regexp.MustCompile(`genai-os: failed reason=slot edition=` + abTestEdition + ` build=[0-9a-f]{8} dev=sr0 detail="genai.slot=A, but the medium found is sr0, GPT name \\"\\", not genai-a"`).MatchString(got) {
			t.Errorf("verdict %q, want failed reason=slot naming sr0", got)
		}
		if err := m.Wait(); err != nil {
			t.Errorf("power-off after the failed line: %v", err)
		}
	})

	t.Run("first-boot", func(t *testing.T) {
		m, run := boot(t, ab.A)
		d := line(t, m, `genai-os: data dev=vda4 size=([0-9]+) grown=yes formatted=yes`)
		// from the data partition's start (after the ESP and both slots) to the last usable LBA
		want := int64(diskSize) - 9*mib - (int64(len(slot))+mib-1)/mib*2*mib - 33*512
		if n, _ := strconv.ParseInt(d[1], 10, 64); n != want {
			t.Errorf("data size %d, want %d", n, want)
		}
		line(t, m, `genai-os: slot booted=A active=A trial=none left=0 version=`+regexp.QuoteMeta(version))
		// First boot's cost: from the switch to stage 2 to its ready line (grow, mke2fs, mount).
		line(t, m, `root mounted, switching [^\r\n]*`)
		line(t, m, `genai-os: ready [^\r\n]*`)
		if out := run("cat /proc/mounts"); !strings.Contains(out, "/dev/vda4 /data ext4 rw") {
			t.Fatalf("/data not mounted read-write:\n%s\n%s", out, m.Console())
		}
		// The update record genai-update would have left: B installed, waiting for its trial.
		run("mkdir -p /data/genai && echo kept > /data/keep")
		run(`echo '{"pending":{"slot":"B","version":"` + version + `","installed":"2026-11-30T08:00:00Z"}}' > /data/genai/update-state.json`)
		down(t, m, run)
	})
	if t.Failed() {
		return
	}
	// genai-update set B on trial; GRUB counted one try and booted B.
	writeEnv(t, img, espOff, espSize, ab.Env{Active: ab.A, Trial: ab.B, Left: 2})

	t.Run("trial-commit", func(t *testing.T) {
		m, run := boot(t, ab.B)
		line(t, m, `genai-os: live medium dev=vda3 `)
		line(t, m, `genai-os: data dev=vda4 size=[0-9]+ grown=no formatted=no`)
		line(t, m, `genai-os: slot booted=B active=A trial=B left=2 version=`+regexp.QuoteMeta(version))
		line(t, m, `genai-os: watchdog armed dev=/dev/watchdog timeout_s=60`)
		line(t, m, `root mounted, switching [^\r\n]*`)
		line(t, m, `genai-os: ready [^\r\n]*`)
		if _, err := m.WaitFor(regexp.MustCompile(`genai-os: update committed slot=B version=` + regexp.QuoteMeta(version))); err != nil {
			t.Fatalf("no commit: %v\n%s", err, m.Console())
		}
		// Disarmed by the magic close after the commit (the watchdog core's sysfs state).
		if out := run("cat /sys/class/watchdog/watchdog0/state"); !strings.Contains(out, "inactive") {
			t.Errorf("watchdog after the commit:\n%s", out)
		}
		if out := run("cat /data/keep"); !strings.Contains(out, "kept") {
			t.Errorf("/data/keep lost:\n%s", out)
		}
		if out := run("cat /data/genai/update-state.json"); !strings.Contains(out, `"outcome": "committed"`) || strings.Contains(out, "pending") {
			t.Errorf("update record after the commit:\n%s", out)
		}
		down(t, m, run)
		if e := readEnv(t, img, espOff, espSize); e != (ab.Env{Active: ab.B, SpareOK: true}) {
			t.Errorf("boot state after the commit: %+v", e)
		}
	})

	if t.Failed() {
		return
	}
	// A trial of A whose try GRUB did not count (left still 3, as if it could not write the ESP):
	// never committed, rolled back to B, and the init reboots (QEMU runs with -no-reboot: it exits).
	writeEnv(t, img, espOff, espSize, ab.Env{Active: ab.B, Trial: ab.A, Left: 3, SpareOK: true})
	t.Run("trial-not-counted", func(t *testing.T) {
		m, _ := boot(t, ab.A)
		line(t, m, `genai-os: slot booted=A active=B trial=A left=3 `)
		got, err := m.WaitFor(regexp.MustCompile(`genai-os: update rolled back slot=A version=\S+ reason=health detail="GRUB did not count this trial boot \(left=3 of 3 tries\)[^"]*"`))
		if err != nil {
			t.Fatalf("no roll back: %v\n%s", err, m.Console())
		}
		t.Logf("%s", got)
		if _, err := m.WaitFor(regexp.MustCompile(`file systems synced, rebooting`)); err != nil {
			t.Fatalf("no clean reboot: %v\n%s", err, m.Console())
		}
		if err := m.Wait(); err != nil {
			t.Errorf("reboot (QEMU's -no-reboot exit): %v", err)
		}
		if strings.Contains(string(m.Console()), "update committed") {
			t.Error("committed a trial GRUB did not count")
		}
		if e := readEnv(t, img, espOff, espSize); e != (ab.Env{Active: ab.B}) {
			t.Errorf("boot state after the roll back: %+v, want active=B, no trial, spare_ok=0", e)
		}
	})
}
