package bootconf

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
		str  string
		bad  bool
	}{
		{in: "0", want: 0, str: "0.0"},
		{in: "0.0", want: 0, str: "0.0"},
		{in: "0.7", want: 700, str: "0.7"},
		{in: ".75", want: 750, str: "0.75"},
		{in: "0.125", want: 125, str: "0.125"},
		{in: "1", want: 1000, str: "1.0"},
		{in: "1.000", want: 1000, str: "1.0"},
		{in: "1.001", bad: true},
		{in: "2", bad: true},
		{in: "-0.1", bad: true},
		{in: "0.1234", bad: true},
		{in: "", bad: true},
		{in: ".", bad: true},
		{in: "1e-1", bad: true},
		{in: "x", bad: true},
	} {
		got, err := ParseLevel(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("ParseLevel(%q) err = %v, want bad=%v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && (got != tc.want || got.String() != tc.str) {
			t.Errorf("ParseLevel(%q) = %d (%s), want %d (%s)", tc.in, got, got, tc.want, tc.str)
		}
	}
}

func TestParse(t *testing.T) {
	const good = `# GenAI OS boot configuration
edition = server
hostname=genai-server

level = 0.7
log_level = debug
network.mode = static
network.interface = eth0
network.address = 10.0.2.15/24
network.gateway = 10.0.2.2
network.dns = 10.0.2.3 1.1.1.1
colour = blue
ai.endpoint = http://10.0.2.2:11434/v1
ai.model = llama3.2
update.tries = 5
`
	c, warns, err := Parse("boot.conf", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Edition != "server" || c.Hostname != "genai-server" || c.Level != 700 || c.LogLevel != "debug" {
		t.Errorf("got %+v", c)
	}
	if c.Network.Mode != "static" || c.Network.Address != netip.MustParsePrefix("10.0.2.15/24") ||
		c.Network.Gateway != netip.MustParseAddr("10.0.2.2") || len(c.Network.DNS) != 2 {
		t.Errorf("network: got %+v", c.Network)
	}
	if c.AI.Endpoint != "http://10.0.2.2:11434/v1" || c.AI.Model != "llama3.2" {
		t.Errorf("ai: %+v", c.AI)
	}
	if c.UpdateTries != 5 {
		t.Errorf("update.tries: %d", c.UpdateTries)
	}
	if len(warns) != 1 || warns[0].String() != `boot.conf:12: unknown key "colour" skipped` {
		t.Errorf("warnings = %v", warns)
	}

	for _, tc := range []struct{ in, want string }{
		{"edition server\n", "boot.conf:1: want key = value"},
		{"\n= x\n", "boot.conf:2: empty key"},
		{"level = 1.5\n", "boot.conf:1: level \"1.5\": above 1.0"},
		{"hostname = -bad\n", "boot.conf:1: hostname"},
		{"log_level = loud\n", "boot.conf:1: log_level"},
		{"edition = a\nedition = b\n", "boot.conf:2: edition already set on line 1"},
		{"network.mode = static\n", "network.mode = static needs network.address"},
		{"network.dns = 1.1.1.1 nope\n", "boot.conf:1: ParseAddr"},
		{"ai.endpoint = ftp://x\n", "boot.conf:1: ai.endpoint"},
		{"update.tries = 0\n", "boot.conf:1: update.tries"},
		{"update.tries = 10\n", "boot.conf:1: update.tries"},
	} {
		_, _, err := Parse("boot.conf", strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) err = %v, want %q", tc.in, err, tc.want)
		}
	}

	// All problems at once.
	_, _, err = Parse("b", strings.NewReader("x\nlevel = 9\n"))
	if err == nil || !strings.Contains(err.Error(), "b:1:") || !strings.Contains(err.Error(), "b:2:") {
		t.Errorf("want both lines reported, got %v", err)
	}

	c, _, err = Parse("empty", strings.NewReader(""))
	if err != nil || c.Hostname != Default().Hostname {
		t.Errorf("empty file: %+v %v", c, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("edition = server\nhostname = h\nlevel = 0.7\nlog_level = info\n")
	f.Add("network.mode = static\nnetwork.address = 10.0.0.1/8\n# c\n")
	f.Add("=\n\x00 = \"\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, _, err := Parse("f", strings.NewReader(in))
		if err != nil {
			return
		}
		if c.Level < 0 || c.Level > MaxLevel {
			t.Errorf("level %d out of range", c.Level)
		}
		if !isHostname(c.Hostname) {
			t.Errorf("bad hostname %q accepted", c.Hostname)
		}
		if _, err := ParseLevel(c.Level.String()); err != nil {
			t.Errorf("level %d does not round-trip: %v", c.Level, err)
		}
	})
}

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  Cmdline
		warns int
		bad   bool
	}{
		{in: "", want: Cmdline{}},
		{in: "console=ttyS0 quiet\n", want: Cmdline{}},
		{in: "consciousness.level=0.3 init.debug", want: Cmdline{Level: 300, HasLevel: true, Debug: true}},
		{in: "consciousness.test=poweroff console=ttyS0,115200", want: Cmdline{Test: "poweroff"}},
		{in: `foo="a b c" consciousness.test="shell"`, want: Cmdline{Test: "shell"}},
		{in: "consciousness.level=7", bad: true},
		{in: "consciousness.test", bad: true},
		{in: "consciousness.colour=red init.debug", want: Cmdline{Debug: true}, warns: 1},
		{in: "consciousness.live.timeout=5 consciousness.live.tmpfs=75% consciousness.live.toram",
			want: Cmdline{LiveTimeout: 5 * time.Second, LiveTmpfs: "75%", LiveToRAM: true}},
		{in: "consciousness.live.tmpfs=512m", want: Cmdline{LiveTmpfs: "512m"}},
		{in: "consciousness.live.tmpfs=1048576", want: Cmdline{LiveTmpfs: "1048576"}},
		{in: "consciousness.live.timeout=0", bad: true},
		{in: "consciousness.live.timeout=2.5", bad: true},
		{in: "consciousness.live.tmpfs=150%", bad: true},
		{in: "consciousness.live.tmpfs=big", bad: true},
		{in: "consciousness.live.tmpfs=1g,mode=777", bad: true},
		{in: "consciousness.live.toram=no", bad: true},
		{in: "genai.slot=B panic=10", want: Cmdline{Slot: "B"}},
		{in: "genai.slot=b", bad: true},
		{in: "genai.slot=", bad: true},
	} {
		got, warns, err := ParseCmdline(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("ParseCmdline(%q) err = %v", tc.in, err)
			continue
		}
		if !tc.bad && got != tc.want {
			t.Errorf("ParseCmdline(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if len(warns) != tc.warns {
			t.Errorf("ParseCmdline(%q) warnings %v", tc.in, warns)
		}
	}
	if got := splitCmdline(`a "b c"d  e=""`); strings.Join(got, "|") != "a|b cd|e=" {
		t.Errorf("split = %q", got)
	}
}

func TestParseOSRelease(t *testing.T) {
	m := ParseOSRelease(strings.NewReader("ID=genai-os\nVERSION_ID=\"1.0\"\nVARIANT_ID='server'\nbad\n# c\nPRETTY_NAME=\"GenAI OS 1.0 (server)\"\n"))
	if m["ID"] != "genai-os" || m["VERSION_ID"] != "1.0" || m["VARIANT_ID"] != "server" || m["PRETTY_NAME"] != "GenAI OS 1.0 (server)" || len(m) != 4 {
		t.Errorf("got %v", m)
	}
}
