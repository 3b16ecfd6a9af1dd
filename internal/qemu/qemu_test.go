package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeOVMF makes a firmware folder with the four files Args looks for; their contents do not
// matter to argument building, only that the variable store is copied.
func fakeOVMF(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd", "OVMF_CODE_4M.ms.fd", "OVMF_VARS_4M.ms.fd", "OVMF_CODE_4M.secboot.fd", "own-vars.fd"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestArgs(t *testing.T) {
	fw := fakeOVMF(t)
	img := filepath.Join(t.TempDir(), "a,b.iso") // a comma must be doubled in -drive
	if err := os.WriteFile(img, []byte("iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	base := func(machine string, accel Accel) []string {
		a := []string{"-nodefaults", "-machine", machine, "-m", "1024", "-smp", "2", "-display", "none", "-serial", "stdio", "-no-reboot"}
		if accel == AccelKVM {
			return append(a, "-accel", "kvm", "-cpu", "host")
		}
		return append(a, "-accel", "tcg", "-cpu", "qemu64,+rdrand")
	}
	esc := "file=" + strings.ReplaceAll(img, ",", ",,")
	cd := []string{"-drive", "if=none,id=boot,media=cdrom,readonly=on,format=raw," + esc, "-device", "ide-cd,drive=boot,bootindex=0"}
	usb := []string{"-drive", "if=none,id=boot,format=raw,snapshot=on," + esc, "-device", "qemu-xhci,id=xhci", "-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0"}
	pflash := func(suffix string) []string {
		return []string{"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + filepath.Join(fw, "OVMF_CODE_4M"+suffix),
			"-drive", "if=pflash,format=raw,unit=1,file=" + filepath.Join(state, "OVMF_VARS.fd")}
	}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, tt := range []struct {
		name  string
		cfg   Config
		accel Accel
		want  []string
		vars  string // what the per-boot variable store must be a copy of ("" for none)
	}{
		{"bios cd", Config{Image: img, Firmware: BIOS, Media: CD}, AccelTCG, cat(base("q35", AccelTCG), cd), ""},
		{"bios usb kvm", Config{Image: img, Firmware: BIOS, Media: USB}, AccelKVM, cat(base("q35", AccelKVM), usb), ""},
		{"uefi cd", Config{Image: img, Firmware: UEFI, Media: CD, StateDir: state, FirmwareDir: fw}, AccelTCG,
			cat(base("q35", AccelTCG), pflash(".fd"), cd), "OVMF_VARS_4M.fd"},
		{"secure boot usb", Config{Image: img, Firmware: SecureBoot, Media: USB, StateDir: state, FirmwareDir: fw}, AccelTCG,
			cat([]string{"-global", "driver=cfi.pflash01,property=secure,value=on"}, base("q35,smm=on", AccelTCG), pflash(".ms.fd"), usb), "OVMF_VARS_4M.ms.fd"},
		{"secure boot with own vars", Config{Image: img, Firmware: SecureBoot, Media: USB, StateDir: state, FirmwareDir: fw, Vars: filepath.Join(fw, "own-vars.fd")}, AccelTCG,
			cat([]string{"-global", "driver=cfi.pflash01,property=secure,value=on"}, base("q35,smm=on", AccelTCG), pflash(".secboot.fd"), usb), "own-vars.fd"},
		{"secure boot virtio disk", Config{Image: img, Firmware: SecureBoot, Media: Virtio, StateDir: state, FirmwareDir: fw}, AccelTCG,
			cat([]string{"-global", "driver=cfi.pflash01,property=secure,value=on"}, base("q35,smm=on", AccelTCG), pflash(".ms.fd"),
				[]string{"-drive", "if=none,id=boot,format=raw,snapshot=on," + esc, "-device", "virtio-blk-pci,drive=boot,bootindex=0"}), "OVMF_VARS_4M.ms.fd"},
		{"uefi nvme disk, writable", Config{Image: img, Firmware: UEFI, Media: NVMe, StateDir: state, FirmwareDir: fw, Writable: true}, AccelTCG,
			cat(base("q35", AccelTCG), pflash(".fd"),
				[]string{"-drive", "if=none,id=boot,format=raw," + esc, "-device", "nvme,serial=genai0,drive=boot,bootindex=0"}), "OVMF_VARS_4M.fd"},
		{"uefi sata disk", Config{Image: img, Firmware: UEFI, Media: SATA, StateDir: state, FirmwareDir: fw}, AccelTCG,
			cat(base("q35", AccelTCG), pflash(".fd"),
				[]string{"-drive", "if=none,id=boot,format=raw,snapshot=on," + esc, "-device", "ide-hd,bus=ide.0,drive=boot,bootindex=0"}), "OVMF_VARS_4M.fd"},
		{"writable usb stick", Config{Image: img, Firmware: BIOS, Media: USB, Writable: true}, AccelTCG,
			cat(base("q35", AccelTCG), []string{"-drive", "if=none,id=boot,format=raw," + esc, "-device", "qemu-xhci,id=xhci", "-device", "usb-storage,bus=xhci.0,drive=boot,bootindex=0"}), ""},
		{"uefi with own vars", Config{Image: img, Firmware: UEFI, Media: CD, StateDir: state, FirmwareDir: fw, Vars: filepath.Join(fw, "own-vars.fd")}, AccelTCG,
			cat(base("q35", AccelTCG), pflash(".fd"), cd), "own-vars.fd"},
		{"memory, cpus, network and forwards", Config{Image: img, Firmware: BIOS, Media: CD, MemoryMB: 192, CPUs: 1, Net: true,
			HostFwd: []string{"tcp::2222-:22", "tcp::8080-:80"}, Extra: []string{"-S"}}, AccelTCG,
			cat([]string{"-nodefaults", "-machine", "q35", "-m", "192", "-smp", "1", "-display", "none", "-serial", "stdio", "-no-reboot",
				"-accel", "tcg", "-cpu", "qemu64,+rdrand"}, cd,
				[]string{"-nic", "user,model=virtio-net-pci,hostfwd=tcp::2222-:22,hostfwd=tcp::8080-:80", "-S"}), ""},
		{"forwards imply a network", Config{Image: img, Firmware: BIOS, Media: CD, HostFwd: []string{"tcp::2222-:22"}}, AccelTCG,
			cat(base("q35", AccelTCG), cd, []string{"-nic", "user,model=virtio-net-pci,hostfwd=tcp::2222-:22"}), ""},
		{"reboots reset the machine", Config{Image: img, Firmware: BIOS, Media: CD, Reboot: true}, AccelTCG,
			cat(slices.DeleteFunc(base("q35", AccelTCG), func(a string) bool { return a == "-no-reboot" }), cd), ""},
		{"std vga", Config{Image: img, Firmware: BIOS, Media: CD, Display: StdVGA, QMP: "/q.sock"}, AccelTCG,
			cat(base("q35", AccelTCG), cd, []string{"-device", "VGA", "-qmp", "unix:/q.sock,server=on,wait=off"}), ""},
		{"virtio vga at 1280x800", Config{Image: img, Firmware: BIOS, Media: CD, Display: VirtioVGA, XRes: 1280, YRes: 800}, AccelTCG,
			cat(base("q35", AccelTCG), cd, []string{"-device", "virtio-vga,xres=1280,yres=800"}), ""},
		{"direct kernel boot needs no image", Config{Kernel: "/k", Initrd: "/i", Append: "console=ttyS0 quiet", Firmware: BIOS}, AccelTCG,
			cat(base("q35", AccelTCG), []string{"-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0 quiet"}), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(state, "OVMF_VARS.fd"))
			got, err := tt.cfg.Args(tt.accel)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args =\n  %q\nwant\n  %q", got, tt.want)
			}
			if tt.vars != "" {
				b, err := os.ReadFile(filepath.Join(state, "OVMF_VARS.fd"))
				if err != nil || string(b) != tt.vars {
					t.Errorf("variable store = %q, %v; want a fresh copy of %s", b, err, tt.vars)
				}
			}
		})
	}
}

func TestArgsErrors(t *testing.T) {
	fw := fakeOVMF(t)
	img := filepath.Join(t.TempDir(), "x.iso")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing image", Config{Image: filepath.Join(t.TempDir(), "none.iso"), Firmware: BIOS, Media: CD}, "image:"},
		{"uefi without a state folder", Config{Image: img, Firmware: UEFI, Media: CD, FirmwareDir: fw}, "StateDir is required"},
		{"no OVMF", Config{Image: img, Firmware: SecureBoot, Media: CD, StateDir: t.TempDir(), FirmwareDir: t.TempDir()}, "install OVMF"},
		{"missing own vars", Config{Image: img, Firmware: SecureBoot, Media: CD, StateDir: t.TempDir(), FirmwareDir: fw, Vars: filepath.Join(fw, "none.fd")}, "UEFI variable store: stat"},
		{"unknown media", Config{Image: img, Firmware: BIOS, Media: "floppy"}, `unknown media "floppy"`},
		{"unknown display", Config{Image: img, Firmware: BIOS, Media: CD, Display: "cirrus"}, `unknown display "cirrus"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.Args(AccelTCG)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Args error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseChoices(t *testing.T) {
	for _, f := range Firmwares {
		if got, err := ParseFirmware(string(f)); err != nil || got != f {
			t.Errorf("ParseFirmware(%q) = %q, %v", f, got, err)
		}
	}
	for _, m := range Medias {
		if got, err := ParseMedia(string(m)); err != nil || got != m {
			t.Errorf("ParseMedia(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseFirmware("coreboot"); err == nil || !strings.Contains(err.Error(), "bios, uefi or secureboot") {
		t.Errorf("ParseFirmware(coreboot) = %v, want the choices named", err)
	}
	if _, err := ParseMedia("scsi"); err == nil || !strings.Contains(err.Error(), "cd, usb, virtio, nvme or sata") {
		t.Errorf("ParseMedia(scsi) = %v, want the choices named", err)
	}
}
