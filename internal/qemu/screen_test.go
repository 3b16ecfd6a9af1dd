package qemu

import (
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/screen"
)

// TestScreen boots a PC with nothing to boot but a blank CD and SeaBIOS's boot menu on, on each
// graphics card, and looks at its screen: the "Press ESC for boot menu." prompt (a needle cut
// from a screendump), the black below it, then Esc opens the menu ("Select boot device:"), and
// "1" typed picks the CD, whose failure is printed below. The screenshots are kept as PNG in
// $GENAI_TEST_ARTIFACTS (default test-results/artifacts) under the test's name.
func TestScreen(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatal(ErrNoQEMU)
	}
	needles := os.DirFS("../screen/testdata")
	prompt, err := screen.LoadNeedle(needles, "seabios-esc-prompt")
	if err != nil {
		t.Fatal(err)
	}
	menu, err := screen.LoadNeedle(needles, "seabios-select")
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "blank.iso")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	black := screen.Colour{}
	below := image.Rect(0, 150, 720, 400) // text rows 10 to 24, empty until something boots
	for _, display := range []Display{StdVGA, VirtioVGA} {
		t.Run(string(display), func(t *testing.T) {
			art, err := filepath.Abs(screen.ArtifactDir(os.Getenv, "../../test-results/artifacts", t.Name()))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshots in %s", art)
			save := func(name string, img image.Image) {
				t.Helper()
				if img == nil {
					return
				}
				if err := screen.WritePNG(filepath.Join(art, name+".png"), img); err != nil {
					t.Error(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// splash-time: SeaBIOS waits this long (ms, at most 65535) for Esc before it boots.
			m, err := Start(ctx, Config{Image: img, Firmware: BIOS, Media: CD, Accel: AccelTCG, CPUs: 1, MemoryMB: 64,
				Display: display, Extra: []string{"-boot", "menu=on,splash-time=60000"}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Kill()
			step := func(name string, d time.Duration, ok func(image.Image) bool) image.Image {
				t.Helper()
				sctx, scancel := context.WithTimeout(ctx, d)
				defer scancel()
				start := time.Now()
				shot, err := screen.WaitUntil(sctx, m.Screen, 200*time.Millisecond, ok)
				save(name, shot)
				if err != nil {
					t.Fatalf("%s: %v (last screen saved as %s.png)", name, err, name)
				}
				t.Logf("%s: seen after %v", name, time.Since(start).Round(time.Millisecond))
				return shot
			}
			first := step("1-prompt", 40*time.Second, func(img image.Image) bool { return prompt.Match(img).OK })
			res := prompt.Match(first)
			t.Logf("prompt needle: similarity %.4f at %v, size %v", res.Similarity(), res.Areas[0].At, first.Bounds().Size())
			if f := screen.Fraction(first, below, black, 0); f != 1 {
				t.Errorf("below the prompt: %.4f black, want all of it", f)
			}
			if r := menu.Match(first); r.OK {
				t.Errorf("the menu needle matches before Esc (similarity %.4f)", r.Similarity())
			}

			if err := m.SendKey(ctx, "esc"); err != nil {
				t.Fatal(err)
			}
			opened := step("2-menu", 30*time.Second, func(img image.Image) bool { return menu.Match(img).OK })
			if d := screen.Diff(first, opened); d == 0 {
				t.Error("Esc changed nothing")
			}
			if c, share := screen.Dominant(opened, below); c != black || share < 0.99 {
				t.Errorf("below the menu: %v covers %.4f, want black nearly all", c, share)
			}

			if err := m.TypeString(ctx, "1"); err != nil {
				t.Fatal(err)
			}
			booted := step("3-boot-cd", 30*time.Second, func(img image.Image) bool {
				return screen.Fraction(img, below, black, 0) < 0.99 // "Booting from DVD/CD..." and its failure
			})
			// The text is VGA's light gray, palette entry 7 = DAC (42, 42, 42) in 6 bits, 0xa8
			// in 8: its horizontal strokes are runs in some row.
			if at, w, ok := screen.FindRun(booted, below, screen.Colour{R: 0xa8, G: 0xa8, B: 0xa8}, 0, 4); !ok {
				t.Error("no gray text below the menu after booting the CD")
			} else {
				t.Logf("gray text below the menu: a run of %d px at %v", w, at)
			}
		})
	}
}
