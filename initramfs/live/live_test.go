package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	idA = strings.Repeat("a1", 32)
	idB = strings.Repeat("b2", 32)
)

func TestParseConf(t *testing.T) {
	c, err := ParseConf("live.conf", strings.NewReader("# made by genai-build\nbuild-id="+idA+"\n\nlayers = packages,programs,system\nlabel=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.BuildID != idA || !slices.Equal(c.Layers, []string{"packages", "programs", "system"}) || !slices.Equal(c.Unknown, []string{"label"}) {
		t.Errorf("got %+v", c)
	}
	for in, want := range map[string]string{
		"layers=a\n":             "live.conf: no build-id",
		"build-id=" + idA + "\n": "live.conf: no layers",
		"build-id=" + strings.ToUpper(idA) + "\nlayers=a": "live.conf:1: build-id",
		"build-id=abc\nlayers=a":                          "want 64 lower-case hex digits",
		"build-id=" + idA + "\nlayers=a,,b":               "live.conf:2: layers: empty layer name",
		"build-id=" + idA + "\nlayers=a,a":                `layer "a" listed twice`,
		"build-id=" + idA + "\nlayers=../etc":             `layer name "../etc"`,
		"build-id=" + idA + "\nlayers=a\nlayers=b":        "live.conf:3: layers already set on line 2",
		"build-id=" + idA + "\nlayers=a\nnonsense":        `live.conf:3: want key=value, got "nonsense"`,
	} {
		_, err := ParseConf("live.conf", strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConf(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestParseLayers(t *testing.T) {
	ls, err := ParseLayers("layers", strings.NewReader("packages 4096 "+idA+"\nsystem 0 "+idB+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Layer{{"packages", 4096, idA}, {"system", 0, idB}}; !slices.Equal(ls, want) {
		t.Errorf("got %+v, want %+v", ls, want)
	}
	for in, want := range map[string]string{
		"packages 4096":               "want \"<name> <size> <sha256>\"",
		"packages -1 " + idA:          `size "-1"`,
		"packages 1e3 " + idA:         `size "1e3"`,
		"packages 1 xyz":              "sha256",
		"a 1 " + idA + "\na 2 " + idB: `layers:2: layer "a" listed twice`,
		"A 1 " + idA:                  `layer name "A"`,
	} {
		_, err := ParseLayers("layers", strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLayers(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

// verityLine is a layer's verity parameters as live.conf gives them.
var verityLine = strings.Repeat("c3", 32) + " " + strings.Repeat("d4", 32) + " 256 257"

func TestParseConfVerity(t *testing.T) {
	in := "build-id=" + idA + "\nlayers=packages,system\nverity.packages=" + verityLine + "\nverity.system=" + verityLine + "\n"
	c, err := ParseConf("live.conf", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Verity) != 2 || c.Verity["system"].String() != verityLine || c.OnCorruption != "eio" || len(c.Unknown) != 0 {
		t.Errorf("got %+v, want both layers' verity and on corruption eio (the default)", c)
	}
	if got := string(c.Format()); got != in+"verity-on-corruption=eio\n" {
		t.Errorf("Format:\n%s", got)
	}
	c, err = ParseConf("live.conf", strings.NewReader(in+"verity-on-corruption=restart\n"))
	if err != nil || c.OnCorruption != "restart" {
		t.Errorf("on corruption restart: %+v, %v", c, err)
	}
	base := "build-id=" + idA + "\nlayers=packages,system\n"
	for in, want := range map[string]string{
		base + "verity.packages=" + verityLine:                                       "layer system has no verity.system line",
		base + "verity-on-corruption=eio":                                            "layer packages has no verity.packages line",
		in + "verity.other=" + verityLine:                                            "verity.other: no such layer",
		in + "verity-on-corruption=ignore":                                           `verity-on-corruption: "ignore": want one of eio, restart, panic`,
		base + "verity.packages=" + verityLine + "\nverity.system=" + verityLine[2:]: "verity.system: root hash",
		in + "verity.Bad=" + verityLine:                                              `layer name "Bad"`,
	} {
		_, err := ParseConf("live.conf", strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConf(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

// FuzzParseConf: no input panics, and what parses writes back to the same Conf.
func FuzzParseConf(f *testing.F) {
	f.Add("build-id=" + idA + "\nlayers=packages,programs,system\n")
	f.Add("build-id=" + idA + "\nlayers=a,b\nverity.a=" + verityLine + "\nverity.b=" + verityLine + "\nverity-on-corruption=panic\n")
	f.Add("# c\nbuild-id = " + idB + "\nlayers=a\nx=y\n")
	f.Add("layers=,\n=\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseConf("f", strings.NewReader(in))
		if err != nil {
			return
		}
		again, err := ParseConf("f", bytes.NewReader(c.Format()))
		if err != nil || again.BuildID != c.BuildID || !slices.Equal(again.Layers, c.Layers) ||
			!bytes.Equal(again.Format(), c.Format()) || again.OnCorruption != c.OnCorruption {
			t.Fatalf("%+v does not round-trip: %+v, %v", c, again, err)
		}
	})
}

// FuzzParseLayers: no input panics; every layer parsed is valid.
func FuzzParseLayers(f *testing.F) {
	f.Add("packages 4096 " + idA + "\nsystem 0 " + idB + "\n")
	f.Add("a 1 2 3\n\n# x\n")
	f.Fuzz(func(t *testing.T, in string) {
		ls, _ := ParseLayers("f", strings.NewReader(in))
		for _, l := range ls {
			if validName(l.Name) != nil || l.Size < 0 || checkID(l.SHA256) != nil {
				t.Fatalf("invalid layer %+v from %q", l, in)
			}
		}
	})
}

func TestJudge(t *testing.T) {
	c := Conf{BuildID: idA, Layers: []string{"packages", "system"}}
	layers := []Layer{{"packages", 100, idB}, {"system", 7, idB}}
	sizes := map[string]int64{"packages": 100, "system": 7}
	size := func(n string) (int64, error) {
		s, ok := sizes[n]
		if !ok {
			return 0, os.ErrNotExist
		}
		return s, nil
	}
	if err := Judge(c, []byte(idA+"\n"), layers, size); err != nil {
		t.Errorf("this build's medium: %v", err)
	}
	var other *OtherBuildError
	if err := Judge(c, []byte(idB+"\n"), layers, size); !errors.As(err, &other) || other.ID != idB || err.Error() != "another build (b2b2b2b2)" {
		t.Errorf("another build's medium: %v", err)
	}
	if err := Judge(c, nil, nil, size); err == nil || err.Error() != "no /live/build-id" {
		t.Errorf("no build id: %v", err)
	}
	if err := Judge(c, []byte(idA), layers[:1], size); err == nil || !strings.Contains(err.Error(), "layer system not in /live/layers") {
		t.Errorf("a layer missing from /live/layers: %v", err)
	}
	sizes["system"] = 6
	if err := Judge(c, []byte(idA), layers, size); err == nil || err.Error() != "layer system: 6 bytes, /live/layers says 7" {
		t.Errorf("a layer cut short: %v", err)
	}
	delete(sizes, "system")
	if err := Judge(c, []byte(idA), layers, size); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a layer file missing: %v", err)
	}
}

// fakeBlock writes a /sys/class/block entry as the kernel shows it.
func fakeBlock(t *testing.T, dir, name, dev string, sectors int64, partition bool) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"dev": dev + "\n", "size": fmt.Sprintf("%d\n", sectors), "ro": "0\n"}
	if partition {
		files["partition"] = "1\n"
	}
	for f, v := range files {
		if err := os.WriteFile(filepath.Join(p, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanDevices(t *testing.T) {
	dir := t.TempDir()
	fakeBlock(t, dir, "sr0", "11:0", 1200, false)
	fakeBlock(t, dir, "sr1", "11:1", 0, false) // a drive with no disc
	fakeBlock(t, dir, "sda", "8:0", 4096, false)
	fakeBlock(t, dir, "sda1", "8:1", 2048, true)
	fakeBlock(t, dir, "loop0", "7:0", 4096, false)
	fakeBlock(t, dir, "ram0", "1:0", 8192, false)
	fakeBlock(t, dir, "nvme0n1p2", "259:2", 100, true)
	if err := os.MkdirAll(filepath.Join(dir, "gone"), 0o755); err != nil { // vanished while read
		t.Fatal(err)
	}
	devs, err := ScanDevices(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range devs {
		got = append(got, fmt.Sprintf("%s %d:%d part=%v %v skip=%q", d.Name, d.Major, d.Minor, d.Partition, d.FSTypes(), d.Skip))
	}
	want := []string{
		`loop0 7:0 part=false [iso9660] skip="loop device"`,
		`nvme0n1p2 259:2 part=true [iso9660 vfat] skip=""`,
		`ram0 1:0 part=false [iso9660] skip="RAM disk"`,
		`sda 8:0 part=false [iso9660] skip=""`,
		`sda1 8:1 part=true [iso9660 vfat] skip=""`,
		`sr0 11:0 part=false [iso9660] skip=""`,
		`sr1 11:1 part=false [iso9660] skip="no medium (size 0)"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFind runs the scan over a fake /sys/class/block with a probe that knows what each device
// holds: another build's medium is refused and the scan goes on, a device that turns up later is
// found, a final verdict is not probed again, and the timeout reports every device.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	fakeBlock(t, dir, "sr0", "11:0", 1200, false)
	fakeBlock(t, dir, "vda", "254:0", 0, false)
	fakeBlock(t, dir, "sda", "8:0", 4096, false) // no file system the init knows yet: tried every poll
	holds := map[string]error{"sr0": &OtherBuildError{ID: idB}}
	probes := map[string]int{}
	probe := func(_ context.Context, d Device) (Medium, bool, error) {
		probes[d.Name]++
		if err, ok := holds[d.Name]; ok {
			if err == nil {
				return Medium{Device: d, FSType: "iso9660"}, true, nil
			}
			return Medium{}, true, err
		}
		return Medium{}, false, errors.New("not iso9660 (no such device)")
	}
	polls := 0
	f := Finder{SysBlock: dir, Poll: time.Millisecond, Timeout: time.Minute}
	// The medium appears after a few polls (a USB stick enumerating late).
	f.Probe = func(ctx context.Context, d Device) (Medium, bool, error) {
		if d.Name == "sda" {
			if polls++; polls == 5 {
				fakeBlock(t, dir, "sdb", "8:16", 4096, false)
				holds["sdb"] = nil
			}
		}
		return probe(ctx, d)
	}
	m, err := f.Find(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Device.Name != "sdb" {
		t.Errorf("found %+v, want sdb", m)
	}
	if probes["sr0"] != 1 {
		t.Errorf("another build's medium probed %d times, want once (its verdict is final)", probes["sr0"])
	}
	if probes["sda"] != 6 { // five polls, and the sixth, which finds sdb after it
		t.Errorf("a device that may yet mount was probed %d times, want once per poll (6)", probes["sda"])
	}
	if probes["vda"] != 0 {
		t.Errorf("an empty device was probed")
	}

	// Nothing of this build: the timeout, with what was seen on each device.
	delete(holds, "sdb")
	holds["sdb"] = errors.New("no /live/build-id")
	f.Probe, f.Timeout = probe, 20*time.Millisecond
	_, err = f.Find(context.Background())
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("want a NotFoundError, got %v", err)
	}
	want := []Seen{{"sda", "not iso9660 (no such device)"}, {"sdb", "no /live/build-id"}, {"sr0", "another build (b2b2b2b2)"}, {"vda", "no medium (size 0)"}}
	if !slices.Equal(nf.Seen, want) {
		t.Errorf("seen %+v, want %+v", nf.Seen, want)
	}
}

func TestRemoveSameDevice(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"init", "etc/consciousness/live.conf", "usr/lib/modules/k/loop.ko", "newroot/keep"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/lib", filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	dev := devOf(t, dir)
	if err := RemoveSameDevice(dir, dev, filepath.Join(dir, "newroot")); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "newroot" {
		t.Errorf("left %v, want only newroot", ents)
	}
	if _, err := os.Stat(filepath.Join(dir, "newroot/keep")); err != nil {
		t.Errorf("the kept directory lost its file: %v", err)
	}
	// Another device's files are never touched: with a device number nothing has, nothing goes.
	if err := RemoveSameDevice(dir, dev+1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "newroot/keep")); err != nil {
		t.Errorf("a file on another device was deleted: %v", err)
	}
}
