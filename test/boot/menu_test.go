package boot_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/qemu"
)

// TestSafeModeFromMenu picks the safe-mode entry of each boot menu from the serial console, as a
// user at a headless machine would, and checks that the system comes up at consciousness level 0.
func TestSafeModeFromMenu(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	for _, tt := range []struct {
		name   string
		fw     qemu.Firmware
		prompt string // what the loader prints when it waits for a choice
		keys   string // what selects safe mode
	}{
		// ISOLINUX: type the label at its "boot:" prompt.
		{"isolinux", qemu.BIOS, "boot: ", "safe\r"},
		// GRUB: the second entry of the menu, one arrow key down (VT100 cursor down), then Enter.
		{"grub", qemu.UEFI, "safe mode", "\x1b[B\r"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startVM(t, qemu.Config{Image: res.Image, Firmware: tt.fw, Media: qemu.CD}, 4*time.Minute)
			if err := m.Expect(tt.prompt, 3*time.Minute); err != nil {
				t.Fatalf("no menu prompt %q: %v\n%s", tt.prompt, err, m.Console())
			}
			if err := m.Send(tt.keys); err != nil {
				t.Fatal(err)
			}
			line, err := m.WaitFor(regexp.MustCompile(`genai-os: ready edition=server level=`))
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`level=0(\.0+)? `).MatchString(line) {
				t.Errorf("ready line %q: want level=0 (safe mode)", line)
			}
		})
	}
}
