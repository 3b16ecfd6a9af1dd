package qemu

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/genai-os/genai-build/internal/screen"
)

// Display is the machine's graphics card. The window stays closed (-display none) whatever the
// card: the screen is seen through Screendump.
type Display string

const (
	NoDisplay Display = ""       // no graphics card (-nodefaults): the serial console only
	StdVGA    Display = "std"    // QEMU's standard VGA (bochs-display in Linux, "-vga std")
	VirtioVGA Display = "virtio" // virtio-gpu with a VGA compatibility mode for BIOS and loaders
)

// displayArgs are QEMU's arguments for the card, with the mode size when set. "-device VGA" is
// what "-vga std" makes, written as a device so that it takes xres and yres.
func (c Config) displayArgs() ([]string, error) {
	dev := ""
	switch c.Display {
	case NoDisplay:
		return nil, nil
	case StdVGA:
		dev = "VGA"
	case VirtioVGA:
		dev = "virtio-vga"
	default:
		return nil, fmt.Errorf("unknown display %q: use std or virtio", c.Display)
	}
	if c.XRes > 0 && c.YRes > 0 {
		dev += fmt.Sprintf(",xres=%d,yres=%d", c.XRes, c.YRes)
	}
	return []string{"-device", dev}, nil
}

// Screendump writes the machine's screen to path as a binary PPM (QMP screendump with format
// ppm). PNG is not used: QEMU 7.2 writes it with red and blue swapped (QEMU issue 1622).
func (m *Machine) Screendump(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path) // QEMU resolves a relative name against its own folder
	if err != nil {
		return err
	}
	_, err = m.QMP(ctx, "screendump", map[string]any{"filename": abs, "format": "ppm"})
	return err
}

// Screen takes a picture of the machine's screen. It fails while the machine has no graphics
// card or the card shows nothing yet.
func (m *Machine) Screen(ctx context.Context) (image.Image, error) {
	f, err := os.CreateTemp(m.state, "screen-*.ppm") // m.state is "" (the system's) with Config.StateDir
	if err != nil {
		return nil, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := m.Screendump(ctx, f.Name()); err != nil {
		return nil, err
	}
	img, err := screen.ReadPPM(f.Name())
	if err != nil {
		return nil, fmt.Errorf("qemu: screendump: %w", err)
	}
	return img, nil
}
