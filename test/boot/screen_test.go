package boot_test

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/screen"
)

// TestTypeStringISOLINUX types a string with shifted characters on the keyboard of a PC at
// ISOLINUX's "boot:" prompt (the server ISO, BIOS, std VGA). ISOLINUX echoes what it reads to
// the serial console, which shows each character arrived as typed, and to the screen, where the
// change must be one text row, as wide as the text.
func TestTypeStringISOLINUX(t *testing.T) {
	iso := serverISO(t).Image
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	m, err := qemu.Start(ctx, qemu.Config{Image: iso, Firmware: qemu.BIOS, Media: qemu.CD, Accel: qemu.AccelTCG, CPUs: 1,
		Display: qemu.StdVGA})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	if err := m.Expect("boot: ", 3*time.Minute); err != nil {
		t.Fatalf("no boot: prompt: %v\n%s", err, m.Console())
	}
	// The first key stops ISOLINUX's 2 s timeout; the screen then holds still but for the cursor.
	if err := m.TypeString(ctx, "H"); err != nil {
		t.Fatal(err)
	}
	still := screen.Still{Interval: 300 * time.Millisecond, Threshold: 0.001}
	before, err := screen.WaitStill(ctx, m.Screen, still)
	if err != nil {
		t.Fatal(err)
	}
	const text = `i, World! ~|{}<>_+:"?`
	mark := m.Mark()
	if err := m.TypeString(ctx, text); err != nil {
		t.Fatal(err)
	}
	if err := m.Expect(text, 30*time.Second); err != nil {
		t.Fatalf("the console shows %q, want %q: %v", m.Console()[mark:], text, err)
	}
	after, err := screen.WaitStill(ctx, m.Screen, still)
	if err != nil {
		t.Fatal(err)
	}
	art, err := filepath.Abs(screen.ArtifactDir(os.Getenv, "../../test-results/artifacts", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", art)
	for name, img := range map[string]image.Image{"1-before.png": before, "2-typed.png": after} {
		if err := screen.WritePNG(filepath.Join(art, name), img); err != nil {
			t.Error(err)
		}
	}
	// VGA text mode: 9x16 character cells. The typed text and the cursor after it change one row.
	ch := screen.Changed(before, after)
	t.Logf("typing changed %v", ch)
	if ch.Dy() > 16 || ch.Dx() < (len(text)-1)*9 || ch.Dx() > (len(text)+1)*9 {
		t.Errorf("typing changed %v, want one 16-px row about %d px wide", ch, len(text)*9)
	}
	banner, err := screen.LoadNeedle(os.DirFS("../../internal/screen/testdata"), "seabios-banner")
	if err != nil {
		t.Fatal(err)
	}
	if r := banner.Match(after); !r.OK {
		t.Errorf("SeaBIOS's banner not on the screen: similarity %.4f", r.Similarity())
	}
}
