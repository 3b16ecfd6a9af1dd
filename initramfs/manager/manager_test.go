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
	if err := Run(context.Background(), &out, []string{"--socket", sock, "--json", "status"}); err != nil || !strings.Contains(out.String(), `"pid": 7`) {
		t.Errorf("json: %v\n%s", err, out.String())
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
