package boot

import (
	"strings"
	"testing"
)

func TestFindKmsg(t *testing.T) {
	for _, c := range []struct {
		name, in string
		ms       int64
		ok       bool
	}{
		{"found", "6,1,100,-;Linux version 6.12\n6,700,5288329,-;Run /init as init process\n 0,1\n6,701,5288400,-;  with arguments:\n", 5288, true},
		{"continuation lines are skipped", "6,700,1000,-;x\n SUBSYSTEM=acpi\n6,701,2999,-;Run /init as init process\n", 2, true},
		{"absent", "6,1,100,-;Linux version 6.12\n", 0, false},
		{"other init", "6,700,5288329,-;Run /sbin/init as init process\n", 0, false},
		{"bad timestamp", "6,700,x,-;Run /init as init process\n", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ms, ok := findKmsg(strings.NewReader(c.in), runInit)
			if ms != c.ms || ok != c.ok {
				t.Errorf("findKmsg = %d, %v; want %d, %v", ms, ok, c.ms, c.ok)
			}
		})
	}
}

func FuzzFindKmsg(f *testing.F) {
	f.Add("6,700,5288329,-;Run /init as init process\n")
	f.Add("6,700,-1,-;Run /init as init process\n")
	f.Fuzz(func(t *testing.T, in string) {
		findKmsg(strings.NewReader(in), runInit)
	})
}

func TestFindKmsgPrefix(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"found", "6,1,100,-;Linux version 6.12\n0,412,2310442,-;Initramfs unpacking failed: write error\n6,413,2310500,-;Freeing initrd memory: 18000K\n", "Initramfs unpacking failed: write error"},
		{"continuation lines are skipped", "6,1,1,-;x\n Initramfs unpacking failed: no\n", ""},
		{"absent", "6,700,5288329,-;Run /init as init process\n", ""},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := findKmsgPrefix(strings.NewReader(c.in), unpackFailed)
			if got != c.want || ok != (c.want != "") {
				t.Errorf("findKmsgPrefix = %q, %v; want %q", got, ok, c.want)
			}
		})
	}
}
