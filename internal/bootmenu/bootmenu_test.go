package bootmenu

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestMenus(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout int
	}{{"timeout2", 2}, {"timeout0", 0}} {
		m, err := Standard(Params{Name: "GenAI OS server 0.1.0", Level: 0.7, Serial: "ttyS0,115200", Cmdline: []string{"quiet"},
			Timeout: tt.timeout, Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.img"})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, tt.name+".isolinux.cfg", ISOLINUX(m))
		golden(t, tt.name+".grub.cfg", GRUB(m))
	}
}

func TestParseSerial(t *testing.T) {
	for _, tt := range []struct {
		in         string
		unit, baud int
		bad        bool
	}{
		{"ttyS0,115200", 0, 115200, false},
		{"ttyS1", 1, 115200, false},
		{"ttyS2,9600", 2, 9600, false},
		{"tty0", 0, 0, true},
		{"ttyS0,fast", 0, 0, true},
		{"ttySx", 0, 0, true},
	} {
		u, b, err := ParseSerial(tt.in)
		if (err != nil) != tt.bad || !tt.bad && (u != tt.unit || b != tt.baud) {
			t.Errorf("ParseSerial(%q) = %d, %d, %v", tt.in, u, b, err)
		}
	}
}
