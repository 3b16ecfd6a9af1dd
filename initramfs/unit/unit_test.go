package unit

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const roadmapUnit = `[Unit]
Description=Core Consciousness System
Wants=consciousness-memory.service consciousness-ai.service
After=kernel-consciousness.service

[Service]
Type=notify
ExecStart=/usr/bin/consciousness-core --kernel-integrated
ExecReload=/bin/kill -HUP $MAINPID
ConsciousnessLevel=0.8
AIIntegration=enabled
`

func TestParseRoadmapExample(t *testing.T) {
	u, diags, err := Parse("consciousness-core.service", "core.service", strings.NewReader(roadmapUnit))
	if err != nil || len(diags) != 0 {
		t.Fatalf("err %v diags %v", err, diags)
	}
	if u.Type != Notify || u.ConsciousnessLevel != 800 || !u.AIIntegration || u.Description != "Core Consciousness System" {
		t.Errorf("got %+v", u)
	}
	if !reflect.DeepEqual(u.Wants, []string{"consciousness-memory.service", "consciousness-ai.service"}) ||
		!reflect.DeepEqual(u.After, []string{"kernel-consciousness.service"}) {
		t.Errorf("deps %v %v", u.Wants, u.After)
	}
	if !reflect.DeepEqual(u.ExecReload[0].Argv, []string{"/bin/kill", "-HUP", "$MAINPID"}) {
		t.Errorf("reload %v", u.ExecReload)
	}
	if u.HasInstall || u.TimeoutStopSec != DefaultTimeoutStopSec {
		t.Errorf("defaults: %+v", u)
	}
}

func TestParseAll(t *testing.T) {
	in := `# comment
; other comment
[Unit]
Description = All keys
Requires=net
Before=b.service c.target
StartLimitBurst=3
StartLimitIntervalSec=2s

[Service]
Type=oneshot
ExecStartPre=-/bin/mkdir -p "/run/my dir"
ExecStart=/bin/echo one
ExecStart=@/bin/busybox sh -c 'echo ${GREETING} \
  world'
ExecStop=/bin/true
Restart=on-failure
RestartSec=250ms
TimeoutStartSec=1min 30s
TimeoutStopSec=infinity
User=daemon
Group=daemon
WorkingDirectory=/var/lib/x
Environment="GREETING=hello there" MODE=1
EnvironmentFile=-/etc/default/x
Colour=blue

[Install]
WantedBy=multi-user.target

[X-Vendor]
Foo=bar
`
	u, diags, err := Parse("all.service", "all.service", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.String())
	}
	want := []string{
		"all.service:26: unknown key Colour= in [Service], skipped",
		"all.service:31: unknown section [X-Vendor], skipped",
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("diags\n%q\nwant\n%q", msgs, want)
	}
	if !reflect.DeepEqual(u.Requires, []string{"net.service"}) || !reflect.DeepEqual(u.Before, []string{"b.service", "c.target"}) {
		t.Errorf("deps %v %v", u.Requires, u.Before)
	}
	if u.StartLimitBurst != 3 || u.StartLimitInterval != 2*time.Second {
		t.Errorf("start limit %d %v", u.StartLimitBurst, u.StartLimitInterval)
	}
	if len(u.ExecStart) != 2 || u.ExecStart[1].Argv0 != "sh" ||
		!reflect.DeepEqual(u.ExecStart[1].Argv, []string{"/bin/busybox", "-c", "echo ${GREETING}    world"}) {
		t.Errorf("ExecStart %+v", u.ExecStart)
	}
	if !u.ExecStartPre[0].IgnoreFailure || u.ExecStartPre[0].Argv[2] != "/run/my dir" {
		t.Errorf("ExecStartPre %+v", u.ExecStartPre)
	}
	if u.RestartSec != 250*time.Millisecond || u.TimeoutStartSec != 90*time.Second || u.TimeoutStopSec != 0 {
		t.Errorf("times %v %v %v", u.RestartSec, u.TimeoutStartSec, u.TimeoutStopSec)
	}
	if !reflect.DeepEqual(u.Environment, []string{"GREETING=hello there", "MODE=1"}) ||
		!reflect.DeepEqual(u.EnvironmentFile, []string{"-/etc/default/x"}) {
		t.Errorf("env %q %q", u.Environment, u.EnvironmentFile)
	}
	if !u.HasInstall || !reflect.DeepEqual(u.WantedBy, []string{"multi-user.target"}) || u.Restart != RestartOnFailure {
		t.Errorf("install %+v", u)
	}
}

func TestParseBad(t *testing.T) {
	for _, tc := range []struct {
		in, diag string
		unusable bool
	}{
		{"[Service]\nType=forking\nExecStart=/bin/x\n", "x.service:2: Type=\"forking\"", false},
		{"[Service]\nExecStart=relative/x\n", "x.service:2: ExecStart=: \"relative/x\": want an absolute path", true},
		{"[Service]\nExecStart=/bin/x\nExecStart=/bin/y\n", "more than one ExecStart=", true},
		{"ExecStart=/bin/x\n", "x.service:1: ExecStart= outside any section", true},
		{"[Service]\nExecStart=/bin/x 'open\n", "unterminated ' quote", true},
		{"[Service]\nExecStart=/bin/x\nRestartSec=soon\n", "x.service:3: RestartSec=", false},
		{"[Service]\nExecStart=/bin/x\nConsciousnessLevel=1.5\n", "x.service:3: ConsciousnessLevel=", false},
		{"[Service\nExecStart=/bin/x\n", "bad section header", true},
		{"[Service]\nExecStart=/bin/x\nnonsense\n", "x.service:3: want Key=value", false},
		{"[Service]\nExecStart=/bin/x\nExecStart=\n", "no ExecStart=", true},
	} {
		u, diags, err := Parse("x.service", "x.service", strings.NewReader(tc.in))
		var all []string
		for _, d := range diags {
			all = append(all, d.String())
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.diag) {
			t.Errorf("%q: diags %q, want %q", tc.in, all, tc.diag)
		}
		if tc.unusable != (err != nil) || tc.unusable != (u == nil) || err != nil && !errors.Is(err, ErrUnusable) {
			t.Errorf("%q: unit %v err %v, want unusable=%v", tc.in, u != nil, err, tc.unusable)
		}
	}
}

func TestTimespan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5": 5 * time.Second, "5s": 5 * time.Second, "100ms": 100 * time.Millisecond, "1min 30s": 90 * time.Second,
		"1.5s": 1500 * time.Millisecond, "2h": 2 * time.Hour, "infinity": 0, "10us": 10 * time.Microsecond,
	} {
		if got, err := ParseTimespan(in); err != nil || got != want {
			t.Errorf("%q = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "5 parsecs", "-1", "1e400"} {
		if _, err := ParseTimespan(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestExpandAndEnvFile(t *testing.T) {
	env := []string{"MAINPID=42", "OPTS=-a -b", "X=1", "X=2"}
	got := Expand([]string{"/bin/kill", "$MAINPID", "$OPTS", "x${X}y", "${NOPE}", "$", "$1bad"}, env)
	want := []string{"/bin/kill", "42", "-a", "-b", "x2y", "", "$", "$1bad"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Expand = %q, want %q", got, want)
	}
	got = ParseEnvFile(strings.NewReader("# c\nA=1\nexport B=\"two words\"\nbad line\n C = 3 \n=x\n"))
	if !reflect.DeepEqual(got, []string{"A=1", "B=two words", "C=3"}) {
		t.Errorf("ParseEnvFile = %q", got)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.service":    "[Service]\nExecStart=/bin/a\n",
		"b.service":    "[Service]\nType=simple\n", // unusable
		"c.service":    "[Service]\nExecStart=/bin/c\nBogus=1\n",
		"notes.txt":    "ignored",
		"d.service.bk": "ignored",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	units, diags, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 2 || units[0].Name != "a.service" || units[1].Name != "c.service" {
		t.Errorf("units %v", units)
	}
	if len(diags) != 2 || !diags[0].Fatal || diags[1].Fatal || diags[1].Line != 3 {
		t.Errorf("diags %v", diags)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(roadmapUnit)
	f.Add("[Service]\nExecStart=@/bin/a b 'c d' \"e\\\"f\" \\\n g\nRestartSec=1min 5ms\n")
	f.Add("[Install]\nWantedBy=\n[Unit]\nAfter=a b\n")
	f.Fuzz(func(t *testing.T, in string) {
		u, diags, err := Parse("f.service", "f", strings.NewReader(in))
		if (u == nil) != (err != nil) {
			t.Fatalf("unit %v with err %v", u, err)
		}
		for _, d := range diags {
			if strings.Contains(d.String(), "\n") && !strings.Contains(in, "\n") {
				t.Errorf("multi-line diag %q", d)
			}
		}
		if u == nil {
			return
		}
		if len(u.ExecStart) == 0 || len(u.ExecStart) > 1 && u.Type != Oneshot {
			t.Errorf("bad ExecStart accepted: %+v", u.ExecStart)
		}
		for _, c := range u.ExecStart {
			if len(c.Argv) == 0 {
				t.Errorf("empty argv accepted")
			}
		}
		if u.ConsciousnessLevel < 0 || u.ConsciousnessLevel > 1000 || u.RestartSec < 0 || u.TimeoutStopSec < 0 {
			t.Errorf("out of range: %+v", u)
		}
	})
}

func TestRuntimeDirectory(t *testing.T) {
	u, diags, err := Parse("x.service", "x.service", strings.NewReader("[Service]\nExecStart=/bin/true\nRuntimeDirectory=sshd other\nRuntimeDirectory=../etc /abs\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u.RuntimeDirectory, []string{"sshd", "other"}) {
		t.Errorf("RuntimeDirectory = %v", u.RuntimeDirectory)
	}
	if len(diags) != 2 {
		t.Errorf("diags = %v, want the two unsafe names reported", diags)
	}
}

func TestConditionPathExists(t *testing.T) {
	for _, c := range []struct {
		lines string
		want  []string
		diags int
	}{
		{"ConditionPathExists=/etc/a\nConditionPathExists=!/etc/b\n", []string{"/etc/a", "!/etc/b"}, 0},
		{"ConditionPathExists=/etc/a\nConditionPathExists=\nConditionPathExists=/etc/c\n", []string{"/etc/c"}, 0},
		{"ConditionPathExists=etc/a\nConditionPathExists=!x\n", nil, 2},
	} {
		u, diags, err := Parse("x.service", "x.service", strings.NewReader("[Unit]\n"+c.lines+"[Service]\nExecStart=/bin/true\n"))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(u.ConditionPathExists, c.want) || len(diags) != c.diags {
			t.Errorf("%q: ConditionPathExists = %q, %d diagnostics (%v); want %q, %d", c.lines, u.ConditionPathExists, len(diags), diags, c.want, c.diags)
		}
	}
}
