package boot_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/cli"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/initrd"
	"github.com/genai-os/genai-build/internal/qemu"
)

// verdict is the init's ready or failed line: one of the two ends every boot (README.md).
var verdict = regexp.MustCompile(`genai-os: (ready|failed) .*`)

// bootToVerdict boots the server ISO's kernel with initrd (the ISO's own when empty) and memMB of
// memory, without firmware or boot loader (they are not what these tests are about, and take
// seconds under TCG), asks the init to power off after its verdict, and returns the verdict line
// and the whole console.
func bootToVerdict(t *testing.T, res *build.Result, initrdPath string, memMB int) (string, string) {
	t.Helper()
	cfg := directBoot(t, res, nil, "consciousness.test=poweroff")
	if initrdPath != "" {
		cfg.Initrd = initrdPath
	}
	cfg.MemoryMB, cfg.CPUs = memMB, 1
	r, err := qemu.Boot(context.Background(), cfg, qemu.Watch{Ready: verdict, Timeout: 4 * time.Minute, KeepRunning: true})
	if err != nil {
		t.Fatal(err)
	}
	return r.ReadyLine, string(r.Console)
}

// writeInitrd concatenates the build's segments, leaving out the one named skip, and appends
// extra (an archive of its own) when it is not nil.
func writeInitrd(t *testing.T, res *build.Result, skip string, extra *fstree.Tree) string {
	t.Helper()
	var parts [][]byte
	found := skip == ""
	for _, s := range res.Segments {
		if s.Name == skip {
			found = true
			continue
		}
		b := s.Data
		if s.Path != "" {
			var err error
			if b, err = os.ReadFile(s.Path); err != nil {
				t.Fatal(err)
			}
		}
		parts = append(parts, b)
	}
	if !found {
		t.Fatalf("no segment %q in %+v", skip, res.Segments)
	}
	if extra != nil {
		var buf bytes.Buffer
		if err := initrd.Write(&buf, extra, initrd.Options{SourceDate: sourceDate, Compression: initrd.Zstd}); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, buf.Bytes())
	}
	p := filepath.Join(t.TempDir(), "initrd.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var rs []io.Reader
	for _, b := range parts {
		rs = append(rs, bytes.NewReader(b))
	}
	err = initrd.Concat(f, rs...)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMemoryTooLittle boots the server ISO's kernel and initramfs with too little memory: the
// kernel cannot unpack the whole root, and the init must say so, with the memory it has and the
// memory the edition needs, and never report ready.
func TestMemoryTooLittle(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	if res.Memory == nil {
		t.Fatal("the build computed no memory minimum")
	}
	// 160 MiB: the kernel runs /init but runs out of memory while it unpacks the later segments
	// (as a user saw it: "Initramfs unpacking failed: write error").
	line, console := bootToVerdict(t, res, "", 160)
	want := fmt.Sprintf("genai-os: failed reason=memory edition=server memory_mb=160 needs_mb=%d missing=", res.Memory.MinMB)
	if !strings.HasPrefix(line, want) {
		t.Errorf("verdict %q, want it to start with %q\n%s", line, want, console)
	}
	if !strings.Contains(line, `kernel="Initramfs unpacking failed`) {
		t.Errorf("verdict %q does not carry the kernel's report", line)
	}
	if !strings.Contains(console, fmt.Sprintf("This machine has 160 MiB of memory; the server edition needs at least %d MiB.", res.Memory.MinMB)) {
		t.Errorf("no explanation for a person on the console:\n%s", console)
	}
	if strings.Contains(console, "genai-os: ready") {
		t.Errorf("a ready line with too little memory:\n%s", console)
	}
	t.Log(line)
}

// TestMemoryMinimum boots with exactly the memory the build computed: that must be enough, and
// the ready line is the usual one.
func TestMemoryMinimum(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	line, console := bootToVerdict(t, res, "", res.Memory.MinMB)
	sm := ready.FindStringSubmatch(line)
	if sm == nil || sm[1] != "0.7" || sm[3] != serverBootUnits || sm[4] != serverBootUnits {
		t.Fatalf("with the computed %d MiB: %q, want the ready line with services=%s/%s\n%s", res.Memory.MinMB, line, serverBootUnits, serverBootUnits, console)
	}
	t.Log(line)
}

// TestSegmentMissing boots an initramfs made of the build's segments but one: the init must name
// the missing segment and stop, with plenty of memory.
func TestSegmentMissing(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	img := writeInitrd(t, res, "server-packages", nil)
	line, console := bootToVerdict(t, res, img, 1024)
	if want := "genai-os: failed reason=root-incomplete edition=server memory_mb=1024 "; !strings.HasPrefix(line, want) ||
		!strings.Contains(line, " missing=server-packages ") {
		t.Errorf("verdict %q, want %q... missing=server-packages\n%s", line, want, console)
	}
	// Every segment after the root manifest counts (res.Segments holds the manifest first).
	if !strings.Contains(console, fmt.Sprintf("1 of %d initramfs segments not unpacked: segment server-packages", len(res.Segments)-1)) {
		t.Errorf("the console does not explain what is missing:\n%s", console)
	}
	// The firmware line comes after the units have been started: none may be, from a partial root.
	if strings.Contains(console, "genai-os: ready") || strings.Contains(console, "genai-os: boot firmware") {
		t.Errorf("a ready line, or units started, from a partial root:\n%s", console)
	}
}

// TestBootUnitFails adds a boot unit that fails to the server's initramfs (one more segment): the
// boot ends with a failed line naming it, with services= counting it, and not with ready.
func TestBootUnitFails(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	extra := fstree.New()
	unit := "[Unit]\nDescription=A boot unit that fails (boot test)\n\n[Service]\nType=oneshot\nExecStart=/bin/false\n"
	if err := extra.Add(fstree.Entry{Path: "etc/consciousness/services/broken.service", Kind: fstree.File, Mode: 0o644, Data: []byte(unit)}); err != nil {
		t.Fatal(err)
	}
	line, console := bootToVerdict(t, res, writeInitrd(t, res, "", extra), 1024)
	re := regexp.MustCompile(`^genai-os: failed reason=units edition=server level=0\.7 boot_ms=[0-9]+ services=1/2 init_ms=[0-9]+ detail="failed at boot: broken.service"$`)
	if !re.MatchString(line) {
		t.Errorf("verdict %q, want %s\n%s", line, re, console)
	}
	if strings.Contains(console, "genai-os: ready") {
		t.Errorf("a ready line with a failed boot unit:\n%s", console)
	}
}

// TestBootRefusesTooLittleMemory: genai-build boot will not start QEMU with less memory than the
// image needs, and says how much it needs.
func TestBootRefusesTooLittleMemory(t *testing.T) {
	res := serverISO(t)
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: os.Getenv},
		[]string{"boot", res.Image, "--memory", fmt.Sprint(res.Memory.MinMB - 1)})
	want := fmt.Sprintf("needs at least %d MiB", res.Memory.MinMB)
	if code == 0 || !strings.Contains(errb.String(), want) {
		t.Errorf("boot --memory %d: exit %d, stderr %q, want a refusal saying %q", res.Memory.MinMB-1, code, errb.String(), want)
	}
}
