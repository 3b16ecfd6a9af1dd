package svc

import (
	"bufio"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/initramfs/unit"
)

// TestSocketActivation: an Accept=yes socket listens at boot without starting anything; each
// connection runs one instance of the template with the connection on stdin and stdout, after
// what the template requires (started once, on the first connection).
func TestSocketActivation(t *testing.T) {
	dir, err := os.MkdirTemp("", "sock") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "echo.sock")
	rec := func(n string) string { return filepath.Join(dir, n+".rec") }
	units := map[string]string{
		"echo.socket": "[Socket]\nListenStream=" + path + "\nAccept=yes\nMaxConnections=4\n",
		"echo@.service": "[Unit]\nRequires=key.service\nAfter=key.service\n[Service]\nStandardInput=socket\nStandardError=journal\n" +
			"ExecStart=" + os.Args[0] + "\nEnvironment=SVC_HELPER=echo RECORD=" + rec("echo") + "\n",
		"key.service": "[Service]\nType=oneshot\nExecStart=" + os.Args[0] + "\nEnvironment=SVC_HELPER=oneshot RECORD=" + rec("key") +
			"\n[Install]\nWantedBy=echo@.service\n",
	}
	m := newManager(t, units, nil, Config{RunDir: dir, LogDir: filepath.Join(dir, "log")})
	if rep := m.StartBoot(); rep.OK != 1 || rep.Total != 1 {
		t.Fatalf("boot: %+v (want the socket alone)", rep)
	}
	if _, err := os.Stat(rec("key")); err == nil {
		t.Fatal("key.service ran before any connection")
	}
	if st, _ := m.Status("echo@.service"); st[0].TriggeredBy != "echo.socket" || st[0].State != Inactive {
		t.Errorf("template before any connection: %+v", st[0])
	}
	if _, err := m.Start("echo@.service"); !errors.Is(err, ErrTemplate) {
		t.Errorf("starting the template by name: %v, want ErrTemplate", err)
	}
	talk := func(msg string) string {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(msg + "\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		return strings.TrimSpace(line)
	}
	for _, msg := range []string{"one", "two"} {
		if got := talk(msg); got != "echo: "+msg {
			t.Errorf("answer %q, want %q", got, "echo: "+msg)
		}
	}
	if ev := (&env{t: t, dir: dir}).events("key"); len(ev["end"]) != 1 {
		t.Errorf("key.service ran %d times, want once", len(ev["end"]))
	}
	// Both instances ended: the template is inactive, the socket counted two connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := m.Status("echo.socket", "echo@.service")
		if st[0].State == Running && strings.Contains(st[0].StatusText, "2 accepted, 0 active") && st[1].State == Inactive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines, _ := m.Logs("echo@.service")
	served := 0
	for _, l := range lines {
		if strings.HasPrefix(l.Text, "served echo@.service") {
			served++
		}
	}
	if served != 2 {
		t.Errorf("template log %v, want two stderr lines", lines)
	}
	// Stopping the socket closes it.
	if err := m.Stop("echo.socket"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("the socket still accepts after stop")
	}
}

// TestTarget: a unit ordered after a built-in target starts only once the target is reached; one
// that requires a target that cannot be reached fails.
func TestTarget(t *testing.T) {
	for _, reached := range []bool{true, false} {
		m := newManager(t, map[string]string{
			"web.service":  "[Unit]\nWants=network-online.target\nAfter=network-online.target\n[Service]\nType=oneshot\nExecStart=/bin/true\n",
			"sync.service": "[Unit]\nRequires=network-online.target\nAfter=network-online.target\n[Service]\nType=oneshot\nExecStart=/bin/true\n",
		}, []*unit.Unit{unit.NewTarget("network-online.target", "the network is configured")}, Config{})
		done := make(chan Report)
		go func() { done <- m.StartBoot() }()
		select {
		case rep := <-done:
			t.Fatalf("boot finished before the network: %+v", rep)
		case <-time.After(300 * time.Millisecond):
		}
		if st, _ := m.Status("web.service"); st[0].State != Inactive {
			t.Errorf("web.service %s before the target was reached", st[0].State)
		}
		if err := m.Reach("network-online.target", reached); err != nil {
			t.Fatal(err)
		}
		rep := <-done
		st, _ := m.Status("network-online.target", "sync.service", "web.service")
		if reached {
			if rep.OK != 3 || st[0].State != Running {
				t.Errorf("reached: %+v %+v", rep, st)
			}
		} else if rep.OK != 1 || st[0].State != Failed || st[1].State != Failed || st[2].State != Exited {
			t.Errorf("not reached: %+v %+v", rep, st)
		}
		if err := m.Reach("web.service", true); err == nil {
			t.Error("Reach of a service succeeded")
		}
	}
}

// TestSocketMaxConnections: past MaxConnections= a connection is closed at once; the ones being
// served are not disturbed.
func TestSocketMaxConnections(t *testing.T) {
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s")
	m := newManager(t, map[string]string{
		"one.socket":   "[Socket]\nListenStream=" + path + "\nAccept=yes\nMaxConnections=1\n",
		"one@.service": "[Service]\nStandardInput=socket\nExecStart=" + os.Args[0] + "\nEnvironment=SVC_HELPER=echo\n",
	}, nil, Config{})
	m.StartBoot()
	first, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// Wait until the first connection is being served.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st, _ := m.Status("one@.service"); st[0].State == Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first connection was never served")
		}
	}
	second, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := second.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("the connection past the limit read %d bytes, %v; want it closed", n, err)
	}
	first.SetDeadline(time.Now().Add(10 * time.Second))
	first.Write([]byte("still here\n"))
	if line, err := bufio.NewReader(first).ReadString('\n'); err != nil || line != "echo: still here\n" {
		t.Errorf("first connection: %q, %v", line, err)
	}
}

// TestSocketAcceptNo: an Accept=no socket starts its service when a connection waits and hands it
// the listening socket as sd_listen_fds(3) expects; when the service exits, the next connection
// starts it again.
func TestSocketAcceptNo(t *testing.T) {
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "d.sock")
	rec := filepath.Join(dir, "daemon.rec")
	m := newManager(t, map[string]string{
		"daemon.socket":  "[Socket]\nListenStream=" + path + "\n[Install]\nWantedBy=sockets.target\n",
		"daemon.service": "[Service]\nExecStart=" + os.Args[0] + "\nEnvironment=SVC_HELPER=listen RECORD=" + rec + "\n[Install]\nWantedBy=daemon.socket\n",
	}, nil, Config{SocketExec: os.Args[0]})
	if rep := m.StartBoot(); rep.OK != 1 || rep.Total != 1 {
		t.Fatalf("boot: %+v (want the socket alone)", rep)
	}
	pids := map[string]bool{}
	for _, msg := range []string{"one", "two"} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		c.Write([]byte(msg + "\n"))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			lines, _ := m.Logs("daemon.service")
			t.Fatalf("%s: %v; daemon's log: %v", msg, err, lines)
		}
		pid, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		if rest != "daemon.socket: "+msg {
			t.Errorf("answer %q, want %q", line, "<pid> daemon.socket: "+msg)
		}
		pids[pid] = true
		// Let the daemon exit before the next connection.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if st, _ := m.Status("daemon.service"); st[0].State != Running && st[0].State != Starting {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the daemon did not exit")
			}
		}
	}
	if len(pids) != 2 {
		t.Errorf("one daemon process answered both connections: %v", pids)
	}
	st, _ := m.Status("daemon.socket")
	if st[0].State != Running || !strings.Contains(st[0].StatusText, "for daemon.service") {
		t.Errorf("socket: %+v", st[0])
	}
}

// TestSocketAcceptNoWithoutExec: without the SocketExec program, an Accept=no socket fails
// with a reason instead of starting services that cannot find their socket.
func TestSocketAcceptNoWithoutExec(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, map[string]string{
		"d.socket":  "[Socket]\nListenStream=" + filepath.Join(dir, "s") + "\n",
		"d.service": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=d.socket\n",
	}, nil, Config{})
	m.StartBoot()
	if st, _ := m.Status("d.socket"); st[0].State != Failed || !strings.Contains(st[0].Result, "SocketExec") {
		t.Errorf("socket: %+v", st[0])
	}
}

// newManager parses units (name -> file text; a diagnostic fails the test), adds extra ready-made
// ones, and makes a Manager at level 0.5 with the test reaper; it is stopped and closed when the
// test ends. cfg gives the other settings.
func newManager(t *testing.T, units map[string]string, extra []*unit.Unit, cfg Config) *Manager {
	t.Helper()
	us := append([]*unit.Unit(nil), extra...)
	for name, body := range units {
		u, diags, err := unit.Parse(name, name, strings.NewReader(body))
		if err != nil || len(diags) > 0 {
			t.Fatalf("%s: %v %v", name, err, diags)
		}
		us = append(us, u)
	}
	t0 := time.Now()
	cfg.Units, cfg.Level, cfg.Spawner = us, 500, testReaper
	cfg.Clock = func() time.Duration { return time.Since(t0) }
	m, msgs, err := New(cfg)
	if err != nil || len(msgs) > 0 {
		t.Fatalf("New: %v %v", err, msgs)
	}
	t.Cleanup(func() { m.StopAll(); m.Close() })
	return m
}
