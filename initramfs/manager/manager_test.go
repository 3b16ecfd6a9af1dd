package manager

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

type fake struct{ ctl.Manager }

func (fake) Status(...string) ([]svc.Status, error) {
	return []svc.Status{{Name: "sshd.service", State: svc.Running, PID: 7, UptimeMs: 61000, Level: "0.0", Boot: true, StartedMs: 10, ReadyMs: 25},
		{Name: "core.service", State: svc.Inactive, Result: "level", Level: "0.8", Boot: true},
		{Name: "web.service", State: svc.Inactive, Level: "0.0", TriggeredBy: "web.socket"}}, nil
}
func (fake) Level() bootconf.Level { return 500 }

func TestRun(t *testing.T) {
	dir, _ := os.MkdirTemp("", "cm")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	l, err := ctl.Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go (&ctl.Server{M: fake{}, AllowGID: -1, Boot: func() ctl.BootInfo {
		return ctl.BootInfo{ExecMs: 90, InitMs: 120, ReadyMs: 300, Edition: "server",
			Phases: []ctl.Phase{{Name: "mounted", Ms: 130}, {Name: "services started", Ms: 290}}}
	}}).Serve(l)

	var out bytes.Buffer
	if err := Run(context.Background(), &out, []string{"--socket", sock, "status"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sshd.service  running   7    1m1s") || !strings.Contains(out.String(), "level 0.5") ||
		!strings.Contains(out.String(), "started by web.socket") {
		t.Errorf("status:\n%s", out.String())
	}
	out.Reset()
	// The flag before the verb, after it (as systemctl takes it) and after the arguments.
	for _, args := range [][]string{{"--socket", sock, "--json", "status"}, {"status", "--json", "--socket", sock},
		{"status", "sshd.service", "--json", "--socket=" + sock}} {
		out.Reset()
		if err := Run(context.Background(), &out, args); err != nil || !strings.Contains(out.String(), `"pid": 7`) {
			t.Errorf("%q: %v\n%s", args, err, out.String())
		}
	}
	out.Reset()
	if err := Run(context.Background(), &out, []string{"--socket", sock, "boot"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kernel start -> exec /init       90 ms", "kernel start -> init main       120 ms",
		"  mounted                       130 ms", "  services started              290 ms", "kernel start -> ready           300 ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("boot: no %q in\n%s", want, out.String())
		}
	}
	if err := Run(context.Background(), &out, []string{"--socket", sock, "poweroff"}); err == nil {
		t.Error("poweroff without power control succeeded")
	}
	if err := Run(context.Background(), &out, []string{"--socket", sock}); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no verb: %v", err)
	}
}

func TestParseArgs(t *testing.T) {
	def := ctl.DefaultSocket
	tests := []struct {
		args []string
		want options
		err  string // part of the error; "" for none
	}{
		{args: []string{"status"}, want: options{socket: def, verb: "status", args: []string{}}},
		{args: []string{"--json", "status"}, want: options{json: true, socket: def, verb: "status", args: []string{}}},
		{args: []string{"status", "--json"}, want: options{json: true, socket: def, verb: "status", args: []string{}}},
		{args: []string{"status", "-json", "sshd.service"}, want: options{json: true, socket: def, verb: "status", args: []string{"sshd.service"}}},
		{args: []string{"status", "sshd.service", "--json=false"}, want: options{socket: def, verb: "status", args: []string{"sshd.service"}}},
		{args: []string{"status", "--socket", "/s", "a.service"}, want: options{socket: "/s", verb: "status", args: []string{"a.service"}}},
		{args: []string{"--socket=/s", "boot"}, want: options{socket: "/s", verb: "boot", args: []string{}}},
		{args: []string{"logs", "-f", "sshd.service"}, want: options{follow: true, socket: def, verb: "logs", args: []string{"sshd.service"}}},
		{args: []string{"logs", "sshd.service", "--follow", "--json"}, want: options{json: true, follow: true, socket: def, verb: "logs", args: []string{"sshd.service"}}},
		{args: []string{"-f", "logs", "x.service"}, want: options{follow: true, socket: def, verb: "logs", args: []string{"x.service"}}},
		// After "--" everything is an argument, even what looks like a flag.
		{args: []string{"status", "--", "--json"}, want: options{socket: def, verb: "status", args: []string{"--json"}}},
		{args: []string{"level", "-", "x"}, want: options{socket: def, verb: "level", args: []string{"-", "x"}}},
		{args: nil, err: "no verb"},
		{args: []string{"--json"}, err: "no verb"},
		{args: []string{"status", "--jsn"}, err: "unknown flag --jsn"},
		{args: []string{"status", "--socket"}, err: "needs a path"},
		{args: []string{"status", "--json=maybe"}, err: "not a boolean"},
		{args: []string{"status", "-f"}, err: "-f is for logs"},
		{args: []string{"status", "--help"}, err: "usage:"},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if got.verb != tt.want.verb || got.json != tt.want.json || got.follow != tt.want.follow ||
			got.socket != tt.want.socket || strings.Join(got.args, "|") != strings.Join(tt.want.args, "|") {
			t.Errorf("%q = %+v, want %+v", tt.args, got, tt.want)
		}
	}
}
