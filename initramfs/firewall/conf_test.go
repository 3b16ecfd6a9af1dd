package firewall

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	c, err := Parse("fw.conf", strings.NewReader("# from the edition\n\nenabled = yes\nallow = udp/53\nallow = tcp/8080\n  allow=tcp/22\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Enabled: true, Allow: []Port{{"tcp", 22}, {"tcp", 8080}, {"udp", 53}}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if got := c.Summary(); got != "input=drop allow=tcp/22,tcp/8080,udp/53" {
		t.Errorf("summary %q", got)
	}
	if got := (Config{Enabled: true}).Summary(); got != "input=drop allow=none" {
		t.Errorf("summary %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "fw.conf: no enabled"},
		{"allow = tcp/22\n", "fw.conf: no enabled"},
		{"enabled = yes\nenabled = no\n", "fw.conf:2: enabled given twice"},
		{"enabled = maybe\n", `fw.conf:1: enabled = "maybe"`},
		{"enabled = yes\n\nallow = sctp/1\n", `fw.conf:3: allow = "sctp/1"`},
		{"enabled = yes\nallow = tcp/0\n", "fw.conf:2: allow"},
		{"enabled = yes\nallow = tcp/65536\n", "fw.conf:2: allow"},
		{"enabled = yes\nallow = tcp/022\n", "fw.conf:2: allow"},
		{"enabled = yes\nallow = tcp/22\nallow = tcp/22\n", "fw.conf:3: allow = tcp/22 given twice"},
		{"enabled = yes\nport 22\n", "fw.conf:2: \"port 22\": want key = value"},
		{"enabled = yes\ndeny = tcp/1\n", `fw.conf:2: unknown key "deny"`},
	} {
		_, err := Parse("fw.conf", strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	c := Config{Enabled: true, Allow: []Port{{"udp", 53}, {"tcp", 22}, {"tcp", 22}}}
	b := Format(c, "Written by genai-build")
	got, err := Parse("x", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := Config{Enabled: true, Allow: []Port{{"tcp", 22}, {"udp", 53}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	off, err := Parse("x", bytes.NewReader(Format(Config{}, "")))
	if err != nil || off.Enabled {
		t.Fatalf("off: %+v %v", off, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("enabled = yes\nallow = tcp/22\n")
	f.Add("enabled = no\n# c\n\nallow = udp/65535\n")
	f.Add("allow = tcp/\n=\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse("f", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		// What parses formats and parses back the same.
		again, err := Parse("g", bytes.NewReader(Format(c, "")))
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip of %q: %+v %v, want %+v", in, again, err, c)
		}
		for _, p := range c.Allow {
			if p.Num == 0 || (p.Proto != "tcp" && p.Proto != "udp") {
				t.Fatalf("bad port %+v", p)
			}
		}
	})
}
