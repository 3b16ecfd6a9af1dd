// Package bootmenu writes the boot menus of an image: ISOLINUX's for legacy BIOS and GRUB's for
// UEFI. Both offer the same entries (default, safe mode, debug) and talk on the screen and the
// serial console, so a headless machine can choose too.
package bootmenu

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Entry is one line of the menu.
type Entry struct {
	ID      string // short label, typed at the ISOLINUX prompt ("safe")
	Title   string
	Cmdline []string
}

// Menu is what both loaders show.
type Menu struct {
	Title   string
	Timeout int // seconds; 0 boots the default entry at once
	// SerialUnit and SerialBaud are the serial console (ttyS<unit>).
	SerialUnit int
	SerialBaud int
	Kernel     string // path on the medium, from its root ("/boot/vmlinuz")
	Initrd     string
	Entries    []Entry // the first is the default
}

// Params are what an edition decides about booting.
type Params struct {
	Name    string  // "GenAI OS server 0.1.0"
	Level   float64 // default consciousness level
	Serial  string  // "ttyS0,115200"
	Cmdline []string
	Timeout int
	Kernel  string
	Initrd  string
}

// Standard returns the menu every edition gets: the default entry at the edition's level, safe mode
// at level 0 and a debug entry with verbose kernel and init logs.
func Standard(p Params) (Menu, error) {
	unit, baud, err := ParseSerial(p.Serial)
	if err != nil {
		return Menu{}, err
	}
	// The last console= is /dev/console, where the init writes: the serial port.
	consoles := []string{"console=tty0", "console=" + p.Serial}
	base := append(consoles, p.Cmdline...)
	level := "consciousness.level=" + strconv.FormatFloat(p.Level, 'f', -1, 64)
	withoutQuiet := func(args []string) []string {
		var out []string
		for _, a := range args {
			if a != "quiet" {
				out = append(out, a)
			}
		}
		return out
	}
	return Menu{
		Title: p.Name, Timeout: p.Timeout, SerialUnit: unit, SerialBaud: baud, Kernel: p.Kernel, Initrd: p.Initrd,
		Entries: []Entry{
			{ID: "default", Title: p.Name, Cmdline: append(append([]string{}, base...), level)},
			{ID: "safe", Title: p.Name + " (safe mode, consciousness level 0)", Cmdline: append(append([]string{}, base...), "consciousness.level=0")},
			{ID: "debug", Title: p.Name + " (debug: verbose kernel and init)", Cmdline: append(withoutQuiet(base), level, "init.debug", "loglevel=7")},
		},
	}, nil
}

// ParseSerial splits "ttyS0,115200" into unit and baud (default 115200).
func ParseSerial(s string) (unit, baud int, err error) {
	dev, b, hasBaud := strings.Cut(s, ",")
	n, ok := strings.CutPrefix(dev, "ttyS")
	if !ok {
		return 0, 0, fmt.Errorf("serial console %q: expected ttySN[,BAUD]", s)
	}
	if unit, err = strconv.Atoi(n); err != nil || unit < 0 {
		return 0, 0, fmt.Errorf("serial console %q: bad unit", s)
	}
	baud = 115200
	if hasBaud {
		if baud, err = strconv.Atoi(b); err != nil || baud <= 0 {
			return 0, 0, fmt.Errorf("serial console %q: bad baud rate", s)
		}
	}
	return unit, baud, nil
}

// ISOLINUX renders isolinux.cfg. It uses no UI module: the prompt and the list are plain text, so
// they show on the serial console as well as the screen (syslinux doc/syslinux.txt: SERIAL, PROMPT,
// TIMEOUT in tenths of a second, SAY).
func ISOLINUX(m Menu) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "SERIAL %d %d\n", m.SerialUnit, m.SerialBaud)
	fmt.Fprintf(&b, "DEFAULT %s\n", m.Entries[0].ID)
	if m.Timeout > 0 {
		fmt.Fprintf(&b, "PROMPT 1\nTIMEOUT %d\n", m.Timeout*10)
		fmt.Fprintf(&b, "SAY %s: type one of", m.Title)
		for _, e := range m.Entries {
			fmt.Fprintf(&b, " %s", e.ID)
		}
		fmt.Fprintf(&b, " (Enter: %s, in %d s)\n", m.Entries[0].ID, m.Timeout)
	} else {
		b.WriteString("PROMPT 0\n")
	}
	for _, e := range m.Entries {
		fmt.Fprintf(&b, "\nLABEL %s\n  SAY Booting %s\n  KERNEL %s\n  INITRD %s\n  APPEND %s\n", e.ID, e.Title, m.Kernel, m.Initrd, strings.Join(e.Cmdline, " "))
	}
	return b.Bytes()
}

// GRUB renders grub.cfg for Debian's signed GRUB, which finds it at /boot/grub/grub.cfg on the
// medium that holds /.disk/info.
func GRUB(m Menu) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "serial --unit=%d --speed=%d\n", m.SerialUnit, m.SerialBaud)
	b.WriteString("terminal_input console serial\nterminal_output console serial\n")
	fmt.Fprintf(&b, "set default=%s\nset timeout=%d\n", m.Entries[0].ID, m.Timeout)
	for _, e := range m.Entries {
		fmt.Fprintf(&b, "\nmenuentry '%s' --id %s {\n  linux %s %s\n  initrd %s\n}\n", strings.ReplaceAll(e.Title, "'", ""), e.ID, m.Kernel, strings.Join(e.Cmdline, " "), m.Initrd)
	}
	return b.Bytes()
}
