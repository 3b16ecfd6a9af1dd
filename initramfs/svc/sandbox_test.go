package svc

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestSandboxedUnit: a unit with sandbox keys runs its commands through the helper (here the test
// binary run as sandbox.ExecName, as the init runs itself), as its User=, with no_new_privs; a "+"
// command runs outside the sandbox; a unit without the keys starts as before; without the helper
// a sandboxed unit fails with a reason.
func TestSandboxedUnit(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the helper switches users and mounts as it does in the init")
	}
	probe := "/bin/sh -c 'echo $0 $(id -u) $(grep ^NoNewPrivs: /proc/self/status | tr -d \"\\t \")'"
	m := newManager(t, map[string]string{
		"hard.service": "[Service]\nType=oneshot\nUser=nobody\nNoNewPrivileges=yes\nProtectSystem=strict\n" +
			"ExecStartPre=+" + strings.Replace(probe, "$0", "pre", 1) + "\nExecStart=" + strings.Replace(probe, "$0", "main", 1) + "\n",
		"soft.service": "[Service]\nType=oneshot\nUser=nobody\nExecStart=" + strings.Replace(probe, "$0", "main", 1) + "\n",
	}, nil, Config{SandboxExec: os.Args[0]})
	if rep := m.StartBoot(); rep.OK != 2 {
		l1, _ := m.Logs("hard.service")
		t.Fatalf("boot %+v; hard.service's log: %q", rep, l1)
	}
	for name, want := range map[string][]string{
		"hard.service": {"pre 0 NoNewPrivs:0", "main 65534 NoNewPrivs:1"},
		"soft.service": {"main 65534 NoNewPrivs:0"},
	} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			lines, _ := m.Logs(name)
			var got string
			for _, l := range lines {
				got += l.Text + "\n"
			}
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(got, w)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s's log %q, want lines %q", name, got, want)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Without the helper: the unit without sandbox keys does not need it.
	m = newManager(t, map[string]string{"hard.service": "[Service]\nType=oneshot\nNoNewPrivileges=yes\nExecStart=/bin/true\n",
		"soft.service": "[Service]\nType=oneshot\nUser=nobody\nExecStart=/bin/true\n"}, nil, Config{})
	m.StartBoot()
	if st, _ := m.Status("hard.service"); st[0].State != Failed || !strings.Contains(st[0].Result, "sandbox helper") {
		t.Errorf("without the helper: %+v", st[0])
	}
	if st, _ := m.Status("soft.service"); st[0].State != Exited {
		t.Errorf("a unit without sandbox keys, without the helper: %+v", st[0])
	}
}
