package debugger

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// serverBoot is a boot as the server edition reports it (figures from a TCG boot).
var serverBoot = ctl.BootInfo{Edition: "server", Level: "0.7", ExecMs: 2480, InitMs: 2530, ReadyMs: 3390,
	ServicesOK: 3, ServicesTotal: 3, Phases: []ctl.Phase{{Name: "setup", Ms: 2560}, {Name: "config", Ms: 2570},
		{Name: "modules", Ms: 3100}, {Name: "network", Ms: 3150}, {Name: "services", Ms: 3390}}}

var serverUnits = []svc.Status{
	{Name: "crasher.service", State: svc.Failed, Result: "start-limit-hit (exit-code 1)", StartedMs: 3900, Restarts: 4, Level: "0.0", Boot: true},
	{Name: "gated.service", State: svc.Inactive, Result: "level", Level: "0.9", Boot: true, After: []string{"sleeper.service"}},
	{Name: "sleeper.service", State: svc.Running, StartedMs: 3160, ReadyMs: 3175, Level: "0.0", Boot: true},
	{Name: "ssh-hostkey.service", State: svc.Inactive, Type: "oneshot", Level: "0.0"},
	{Name: "sshd.service", State: svc.Inactive, Level: "0.0", Requires: []string{"ssh-hostkey.service"}, After: []string{"ssh-hostkey.service"}, TriggeredBy: "sshd.socket"},
	{Name: "sshd.socket", State: svc.Running, StartedMs: 3150, ReadyMs: 3152, Level: "0.0", Boot: true},
	{Name: "web.service", State: svc.Starting, StartedMs: 3300, Level: "0.0", Boot: true, Wants: []string{"sleeper.service", "missing.service"}},
}

func TestTimeline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		boot  ctl.BootInfo
		units []svc.Status
	}{
		{"timeline-server.txt", serverBoot, serverUnits},
		{"timeline-not-ready.txt", ctl.BootInfo{Edition: "server", Level: "0.5", InitMs: 100, Phases: []ctl.Phase{{Name: "setup", Ms: 150}}},
			[]svc.Status{{Name: "a.service", State: svc.Starting, StartedMs: 160}, {Name: "b.service", State: svc.Running, StartedMs: 170, ReadyMs: 900}}},
		{"timeline-empty.txt", ctl.BootInfo{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			buildTimeline(tc.boot, tc.units).writeText(&b)
			golden(t, tc.name, b.String())
		})
	}
}

// The SVG is well-formed XML with an svg root and one rect per row (and the background).
func TestTimelineSVG(t *testing.T) {
	tl := buildTimeline(serverBoot, append(serverUnits, svc.Status{Name: `odd<&>"name".service`, State: svc.Running, StartedMs: 3200, ReadyMs: 3300}))
	var b bytes.Buffer
	if err := tl.writeSVG(&b); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	rects, root := 0, ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Space + " " + se.Name.Local
			}
			if se.Name.Local == "rect" {
				rects++
			}
			if se.Name.Local == "script" || se.Name.Local == "image" {
				t.Errorf("not self-contained: %s", se.Name.Local)
			}
		}
	}
	if root != "http://www.w3.org/2000/svg svg" || rects != len(tl.Bars)+1 {
		t.Errorf("root %q, %d rects for %d rows", root, rects, len(tl.Bars))
	}
}

func TestGraph(t *testing.T) {
	var tree, dot bytes.Buffer
	writeTree(&tree, serverUnits)
	golden(t, "graph.txt", tree.String())
	writeDOT(&dot, serverUnits)
	golden(t, "graph.dot", dot.String())
	// A cycle of pulls has no root: its units are still shown.
	var cyc bytes.Buffer
	writeTree(&cyc, []svc.Status{{Name: "a.service", Wants: []string{"b.service"}}, {Name: "b.service", Wants: []string{"a.service"}}})
	golden(t, "graph-cycle.txt", cyc.String())
}

func TestCrashesText(t *testing.T) {
	code := 1
	hs := []svc.History{
		{Unit: "crasher.service", Restarts: 1, Exits: []svc.Exit{
			{AtMs: 3905, Result: "exit-code 1", Code: &code, Restart: true, LastLogs: []svc.LogLine{{At: 3904e6, Text: "cat: /nope: no such file"}}},
			{AtMs: 4120, Result: "exit-code 1", Code: &code, LastLogs: []svc.LogLine{{At: 4119e6, Text: "cat: /nope: no such file"}}}}},
		{Unit: "sleeper.service"},
	}
	units := map[string]svc.Status{}
	for _, u := range serverUnits {
		units[u.Name] = u
	}
	var b bytes.Buffer
	writeCrashes(&b, hs, units, false)
	golden(t, "crashes.txt", b.String())
	b.Reset()
	writeCrashes(&b, hs[1:], units, false)
	if !strings.Contains(b.String(), "no unit has exited") {
		t.Errorf("no crashes: %q", b.String())
	}
}

func TestWhy(t *testing.T) {
	st := state{Units: map[string]svc.Status{}, Level: "0.7", History: map[string]svc.History{}}
	for _, u := range append(serverUnits,
		svc.Status{Name: "app.service", State: svc.Failed, Result: "dependency failed: db.service", Requires: []string{"db.service"}},
		svc.Status{Name: "db.service", State: svc.Failed, Result: "exec: /usr/bin/db: no such file"},
		svc.Status{Name: "lonely.service", State: svc.Inactive, Result: "dependency missing: ghost.service", Requires: []string{"ghost.service"}},
		svc.Status{Name: "manual.service", State: svc.Inactive},
		svc.Status{Name: "stopped.service", State: svc.Inactive, Result: "stopped", Boot: true},
		svc.Status{Name: "session.service", State: svc.Inactive, Result: "condition ConditionPathExists=!/etc/genai/no-autologin", Boot: true},
		svc.Status{Name: "login.service", State: svc.Inactive, Result: "condition ConditionPathExists=/etc/genai/no-autologin", Boot: true},
	) {
		st.Units[u.Name] = u
	}
	st.History["crasher.service"] = svc.History{Unit: "crasher.service", Exits: []svc.Exit{{AtMs: 4120, Result: "exit-code 1", LastLogs: []svc.LogLine{{Text: "cat: /nope: no such file"}}}}}
	for _, tc := range []struct{ unit, want string }{
		{"gated.service", "its level 0.9 is above the running level 0.7"},
		{"crasher.service", "restart burst limit"},
		{"crasher.service", "| cat: /nope: no such file"},
		{"app.service", "it requires db.service, which did not start:\n    db.service failed: exec:"},
		{"lonely.service", "it requires ghost.service, which is not a loaded unit"},
		{"sshd.service", "socket-activated: sshd.socket (running) starts it"},
		{"manual.service", "not wanted at boot"},
		{"stopped.service", "stopped by request"},
		{"session.service", "skipped: /etc/genai/no-autologin exists, and its ConditionPathExists=!/etc/genai/no-autologin says it must not"},
		{"login.service", "skipped: /etc/genai/no-autologin does not exist"},
		{"sleeper.service", "sleeper.service is running"},
		{"web.service", "web.service is starting"},
		{"nope.service", "not a loaded unit"},
	} {
		got := strings.Join(why(st, tc.unit), "\n")
		if !strings.Contains(got, tc.want) {
			t.Errorf("why %s: no %q in\n%s", tc.unit, tc.want, got)
		}
	}
	// An inactive requirement is no reason: starting sshd starts its host key unit.
	if got := strings.Join(why(st, "sshd.service"), "\n"); strings.Contains(got, "requires") {
		t.Errorf("why sshd blames its inactive requirement:\n%s", got)
	}
}

func TestFormatEvent(t *testing.T) {
	for _, tc := range []struct {
		ev   ctl.Event
		want string
	}{
		{ctl.Event{TimeMs: 3390, Kind: "hello", Level: "0.7"}, "    3.390s  subscribed, level 0.7"},
		{ctl.Event{TimeMs: 61002, Kind: "unit", Unit: "sshd.service", State: "restarting", Result: "exit-code 255"}, "   61.002s  unit  sshd.service                 restarting (exit-code 255)"},
		{ctl.Event{TimeMs: 5, Kind: "level", Level: "0.9"}, "    0.005s  level 0.9"},
	} {
		if got := formatEvent(tc.ev); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

// The developer edition installs the man page from its overlay: the same bytes as here.
func TestManPageInstalled(t *testing.T) {
	here, err := os.ReadFile("consciousness-debugger.1")
	if err != nil {
		t.Fatal(err)
	}
	there, err := os.ReadFile("../../overlays/developer/usr/share/man/man1/consciousness-debugger.1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(here, there) {
		t.Error("overlays/developer/usr/share/man/man1/consciousness-debugger.1 differs from tools/debugger/consciousness-debugger.1: copy it")
	}
}
