package main

import "testing"

func TestCmdlineVerdict(t *testing.T) {
	const signed = "console=ttyS0,115200 audit=1 consciousness.level=0.7\n"
	for _, c := range []struct{ got, want string }{
		{"console=ttyS0,115200 audit=1 consciousness.level=0.7", ""},
		{"  console=ttyS0,115200  audit=1 consciousness.level=0.7 \n", ""},
		{"console=ttyS0,115200 audit=1 consciousness.level=0.7 init.debug", `added "init.debug"`},
		{"console=ttyS0,115200 consciousness.level=0.7", `missing "audit=1"`},
		{"console=ttyS0,115200 audit=0 consciousness.level=0.7", `added "audit=0", missing "audit=1"`},
		{"audit=1 console=ttyS0,115200 consciousness.level=0.7", "the words are in another order"},
		{"console=ttyS0,115200 audit=1 consciousness.level=0.7 audit=1", `added "audit=1"`},
	} {
		if got := cmdlineVerdict(signed, c.got); got != c.want {
			t.Errorf("cmdlineVerdict(%q) = %q, want %q", c.got, got, c.want)
		}
	}
}
