package ab

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat16"
	"github.com/genai-os/genai-build/internal/ab/abtest"
)

func TestEnvFormatParse(t *testing.T) {
	for _, e := range []Env{
		Factory,
		{Active: A, Trial: B, Left: 3, SpareOK: true},
		{Active: B, Left: 0, SpareOK: true},
		{Active: B, Trial: A, Left: 1},
	} {
		b := e.Format()
		if len(b) != EnvSize {
			t.Fatalf("%v: %d bytes", e, len(b))
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 512 {
			t.Errorf("%v: variables end at byte %d, past the first sector", e, i)
		}
		got, err := ParseEnv(b)
		if err != nil || got != e {
			t.Errorf("ParseEnv(Format(%v)) = %v, %v", e, got, err)
		}
	}
	want := "# GRUB Environment Block\ngenai_env=1\ngenai_active=A\ngenai_trial=B\ngenai_left=3\ngenai_spare_ok=1\n###"
	if got := string(Env{Active: A, Trial: B, Left: 3, SpareOK: true}.Format()); !strings.HasPrefix(got, want) {
		t.Errorf("Format = %q…, want %q…", got[:len(want)], want)
	}
}

// block is an envblk as GRUB's save_env leaves it: the variables it set moved to the end.
func block(lines ...string) []byte {
	b := []byte(envHeader + strings.Join(lines, "\n") + "\n")
	for len(b) < EnvSize {
		b = append(b, '#')
	}
	return b
}

func TestParseEnv(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want Env
		err  string
	}{
		{"grub reordered", block("genai_env=1", "genai_active=A", "genai_spare_ok=1", "genai_trial=B", "genai_left=2"), Env{Active: A, Trial: B, Left: 2, SpareOK: true}, ""},
		{"other variables", block("saved_entry=x", "genai_env=1", "genai_active=B", "genai_trial=none", "genai_left=0", "genai_spare_ok=0"), Env{Active: B}, ""},
		{"short", []byte(envHeader), Env{}, "bytes"},
		{"zeros", make([]byte, EnvSize), Env{}, "header"},
		{"no version", block("genai_active=A", "genai_trial=none", "genai_left=0", "genai_spare_ok=0"), Env{}, "genai_env"},
		{"bad active", block("genai_env=1", "genai_active=C", "genai_trial=none", "genai_left=0", "genai_spare_ok=0"), Env{}, "genai_active"},
		{"bad left", block("genai_env=1", "genai_active=A", "genai_trial=B", "genai_left=10", "genai_spare_ok=1"), Env{}, "genai_left"},
		{"bad spare", block("genai_env=1", "genai_active=A", "genai_trial=B", "genai_left=1", "genai_spare_ok=yes"), Env{}, "genai_spare_ok"},
		{"torn padding", append(block("genai_env=1", "genai_active=A", "genai_trial=none", "genai_left=0", "genai_spare_ok=0")[:600], make([]byte, EnvSize-600)...), Env{}, "padding"},
	} {
		got, err := ParseEnv(c.in)
		if c.err != "" {
			if err == nil || !errors.Is(err, ErrBadEnv) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want ErrBadEnv mentioning %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func FuzzParseEnv(f *testing.F) {
	f.Add(Factory.Format())
	f.Add(block("genai_env=1", "genai_active=A", "genai_trial=B", "genai_left=2", "genai_spare_ok=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnv(b)
		if err != nil {
			return
		}
		if again, err := ParseEnv(e.Format()); err != nil || again != e {
			t.Fatalf("round trip of %v: %v, %v", e, again, err)
		}
	})
}

// espImage writes a FAT16 ESP at off in a file, with both copies of env, as the disk writer does.
func espImage(t *testing.T, off int64, env []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	img := abtest.ESP(t, 8<<20, map[string][]byte{
		"EFI/debian/grub.cfg": bytes.Repeat([]byte("x"), 3000), // so the copies do not start the data area
		EnvPath:               env,
		EnvPath2:              env,
	})
	if err := os.WriteFile(p, append(make([]byte, off), img...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStore(t *testing.T) {
	const off = 1 << 20
	p := espImage(t, off, Factory.Format())
	s, err := OpenStoreAt(p, off, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e, repaired, err := s.Read(); err != nil || e != Factory || repaired {
		t.Fatalf("Read = %v, %v, %v; want the factory state", e, repaired, err)
	}
	trial := Env{Active: A, Trial: B, Left: 3, SpareOK: true}
	if err := s.Write(trial); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if n := bytes.Count(raw, trial.Format()); n != 2 {
		t.Fatalf("the image holds the new block %d times, want 2", n)
	}
	// What a FAT driver reads is what Store wrote: the files' bytes are the blocks.
	fs, err := fat16.Read(file.New(mustOpen(t, p), true), 8<<20, off, 512)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{EnvPath, EnvPath2} {
		b, err := fs.ReadFile(n)
		if err != nil || !bytes.Equal(b, trial.Format()) {
			t.Errorf("%s through the FAT: %q, %v", n, b[:60], err)
		}
	}

	// A torn first copy: the second one's state wins and the first is repaired.
	i := bytes.Index(raw, trial.Format())
	torn := append([]byte(nil), raw...)
	copy(torn[i+30:], bytes.Repeat([]byte{0}, 100))
	if err := os.WriteFile(p, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	e, repaired, err := s.Read()
	if err != nil || e != trial || !repaired {
		t.Fatalf("Read of a torn grubenv = %v, %v, %v; want %v repaired", e, repaired, err, trial)
	}
	envs, errs := s.Copies()
	if errs[0] != nil || envs[0] != trial {
		t.Errorf("grubenv after repair: %v, %v", envs[0], errs[0])
	}
	// Both copies bad: an error, nothing invented.
	bad := bytes.ReplaceAll(torn, trial.Format()[:30], bytes.Repeat([]byte("!"), 30))
	if err := os.WriteFile(p, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Read(); !errors.Is(err, ErrNoValidEnv) {
		t.Errorf("Read with both copies bad: %v, want ErrNoValidEnv", err)
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sysfs makes a /sys/class/block of symlinks into a devices tree, as the kernel lays it out.
func sysfs(t *testing.T, parts map[string]string) string {
	t.Helper()
	root := t.TempDir()
	class := filepath.Join(root, "class", "block")
	os.MkdirAll(class, 0o755)
	for name, pn := range parts {
		disk := strings.TrimRight(name, "0123456789")
		disk = strings.TrimSuffix(disk, "p")
		dev := filepath.Join(root, "devices", disk, name)
		os.MkdirAll(dev, 0o755)
		os.WriteFile(filepath.Join(dev, "partition"), []byte("1\n"), 0o644)
		os.WriteFile(filepath.Join(dev, "uevent"), []byte("MAJOR=254\nDEVNAME="+name+"\nDEVTYPE=partition\nPARTNAME="+pn+"\n"), 0o644)
		if err := os.Symlink(dev, filepath.Join(class, name)); err != nil {
			t.Fatal(err)
		}
	}
	return class
}

func TestFindDisk(t *testing.T) {
	sys := sysfs(t, map[string]string{
		"vda1": ESPName, "vda2": "genai-a", "vda3": "genai-b", "vda4": DataName,
		"nvme0n1p1": "EFI", "nvme0n1p2": "genai-a",
	})
	d, err := FindDisk(sys, "/dev", "vda3")
	want := Disk{Name: "vda", ESP: "/dev/vda1", SlotA: "/dev/vda2", SlotB: "/dev/vda3", Data: "/dev/vda4"}
	if err != nil || d != want {
		t.Fatalf("FindDisk = %+v, %v; want %+v", d, err, want)
	}
	if d.Slot(B) != "/dev/vda3" {
		t.Errorf("Slot(B) = %s", d.Slot(B))
	}
	if _, err := FindDisk(sys, "/dev", "nvme0n1p2"); err == nil || !strings.Contains(err.Error(), "genai-esp") {
		t.Errorf("FindDisk on a disk without the layout: %v", err)
	}
	if _, err := FindDiskBySlot(sys, "/dev", A); err == nil || !strings.Contains(err.Error(), "several disks") {
		t.Errorf("FindDiskBySlot with two genai-a: %v", err)
	}
	if d, err := FindDiskBySlot(sys, "/dev", B); err != nil || d != want {
		t.Errorf("FindDiskBySlot(B) = %+v, %v", d, err)
	}
	if n, err := PartName(sys, "vda4"); err != nil || n != DataName {
		t.Errorf("PartName = %q, %v", n, err)
	}
}

func TestState(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadState(dir)
	if err != nil || s.Pending != nil || s.Last != nil {
		t.Fatalf("LoadState of nothing = %+v, %v", s, err)
	}
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	s = State{Pending: &Attempt{Slot: B, Version: "0.2.0", Installed: now}, Last: &Result{Slot: B, Version: "0.2.0", Outcome: Installed, Time: now}}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil || *got.Pending != *s.Pending || *got.Last != *s.Last {
		t.Fatalf("LoadState = %+v, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, StatePath), []byte("{"), 0o644)
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), StatePath) {
		t.Errorf("LoadState of a broken record: %v", err)
	}
}
