package dm

import "testing"

func TestParseCorruption(t *testing.T) {
	for _, c := range []struct {
		line string
		want Corruption
		ok   bool
	}{
		{"3,812,4960123,-;device-mapper: verity: 7:3: data block 710 is corrupted", Corruption{"7:3", "data", 710}, true},
		{"device-mapper: verity: 259:12: metadata block 2 is corrupted", Corruption{"259:12", "metadata", 2}, true},
		{"device-mapper: verity: 7:3: reached maximum errors", Corruption{}, false},
		{"SQUASHFS error: unable to read page, block 4d3000, size 2a18", Corruption{}, false},
		{"device-mapper: verity: 7:3: data block 99999999999999999999999 is corrupted", Corruption{}, false},
	} {
		got, ok := ParseCorruption(c.line)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseCorruption(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseCorruption(f *testing.F) {
	f.Add("device-mapper: verity: 7:3: data block 710 is corrupted")
	f.Fuzz(func(t *testing.T, line string) {
		if c, ok := ParseCorruption(line); ok && c.Dev == "" {
			t.Fatalf("%q: ok without a device", line)
		}
	})
}
