package boot_test

import (
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// The firewall's test editions: the server with the firewall on, the audit overlay and audit=1 on
// the command line; allow_tcp is left empty on purpose, so that SSH gets through only because the
// builder adds sshd.socket's ListenStream=22. The control edition is the same with the firewall
// off.
const (
	firewallEdition    = "server-firewall"
	firewallOffEdition = "server-firewall-off"
	firewallYAML       = `# test/boot: the server with the deny-by-default firewall and the audit daemon.
name: server-firewall
extends: server
description: Server with the firewall on and the audit log
firewall:
  enabled: true
overlays: [audit]
boot:
  cmdline: [audit=1]
`
	firewallOffYAML = `# test/boot: server-firewall with the firewall off (the control boot).
name: server-firewall-off
extends: server-firewall
description: Server with the audit log, firewall off
firewall:
  enabled: false
`
)

var firewallEditions struct {
	once sync.Once
	dir  string
	err  error
}

// firewallEditionsDir is the folder with the checkout's editions and the firewall's, written once.
func firewallEditionsDir(t *testing.T) string {
	t.Helper()
	firewallEditions.once.Do(func() {
		firewallEditions.dir, firewallEditions.err = writeEditions(map[string]string{firewallEdition: firewallYAML, firewallOffEdition: firewallOffYAML})
	})
	if firewallEditions.err != nil {
		t.Fatal(firewallEditions.err)
	}
	return firewallEditions.dir
}

// firewallISO builds one of the firewall editions with the banner overlay and a root key.
func firewallISO(t *testing.T, edition, authorized string) *build.Result {
	return buildISO(t, edition, build.Options{Edition: edition, EditionsDir: firewallEditionsDir(t),
		SSHKeys: []string{authorized}, ExtraOverlays: []string{"testdata/firewall"}})
}

// readBanner connects to addr and returns what the server sends within wait. QEMU's user network
// accepts the host's connection before the guest answers, so a refused or dropped guest port shows
// as a connection that brings nothing: the test asserts on the banner, not on the connect.
func readBanner(addr string, wait time.Duration) string {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var got []byte
	buf := make([]byte, 256)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil || strings.Contains(string(got), "\n") {
			return string(got)
		}
	}
}

// TestFirewall boots the server with the firewall on (test plan T4, T5): a service listening on
// tcp/8080 that nothing declared is not reachable through QEMU's forward while SSH is; the control
// boot with the firewall off shows that port's banner (the test can see an open port). In the
// first boot an SSH login with a terminal is recorded by the kernel's audit (sshd's USER_LOGIN,
// through genai-auditd into /var/log/audit/audit.log), as are the units' starts (the init's
// SERVICE_START records).
func TestFirewall(t *testing.T) {
	needQEMU(t)
	signer, authorized := testKey(t)
	const hello = "HELLO-8080"
	type boot struct {
		vm               *qemu.Machine
		sshAddr, webAddr string
	}
	start := func(t *testing.T, edition string) boot {
		res := firewallISO(t, edition, authorized)
		sshAddr, sshPort := freePort(t)
		webAddr, webPort := freePort(t)
		vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD,
			HostFwd: []string{"tcp:127.0.0.1:" + sshPort + "-:22", "tcp:127.0.0.1:" + webPort + "-:8080"}}, 6*time.Minute)
		line, err := vm.WaitFor(readyLine(edition))
		if err != nil {
			t.Fatalf("%v\n%s", err, vm.Console())
		}
		t.Log(line)
		if _, err := vm.WaitFor(regexp.MustCompile(`genai-os: network iface=\S+ addr=10\.0\.2\.15/24`)); err != nil {
			t.Fatal(err)
		}
		return boot{vm, sshAddr, webAddr}
	}
	consoleHas := func(t *testing.T, vm *qemu.Machine, re string) {
		t.Helper()
		if !regexp.MustCompile(re).Match(vm.Console()) {
			t.Errorf("console has no line matching %s", re)
		}
	}

	t.Run("on", func(t *testing.T) {
		b := start(t, firewallEdition)
		consoleHas(t, b.vm, `genai-os: firewall on input=drop allow=tcp/22\r?\n`)
		consoleHas(t, b.vm, `genai-os: security secureboot=off lockdown=none\r?\n`)
		client, err := ssh.Dial("tcp", b.sshAddr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
		if err != nil {
			t.Fatalf("ssh through the firewall: %v\n%s", err, b.vm.Console())
		}
		defer client.Close()
		run := func(cmd string, pty bool) string {
			t.Helper()
			s, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if pty { // sshd writes its login records (and USER_LOGIN) for sessions with a terminal
				if err := s.RequestPty("vt100", 24, 80, ssh.TerminalModes{}); err != nil {
					t.Fatal(err)
				}
			}
			out, err := s.CombinedOutput(cmd)
			if err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
			return string(out)
		}
		// The banner service runs and listens: only the firewall stands between it and the host.
		st := run("consciousness-manager status banner.service", false)
		if !regexp.MustCompile(`banner\.service\s+running`).MatchString(st) {
			t.Fatalf("banner.service is not running:\n%s", st)
		}
		for i := 0; i < 3; i++ {
			if got := readBanner(b.webAddr, 5*time.Second); strings.Contains(got, hello) {
				t.Fatalf("tcp/8080 answered through the firewall: %q", got)
			}
		}
		// The login with a terminal, then the log.
		run("true", true)
		dpkg := run("dpkg -l libaudit1", false)
		if !regexp.MustCompile(`(?m)^ii\s+libaudit1`).MatchString(dpkg) {
			t.Errorf("sshd's libaudit1 is not installed:\n%s", dpkg)
		}
		var log string
		deadline := time.Now().Add(30 * time.Second)
		for {
			log = run("cat /var/log/audit/audit.log", false)
			if strings.Contains(log, "type=USER_LOGIN") || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		for _, re := range []string{
			// OpenSSH 9.8 and later write it from the session process, sshd-session.
			`(?m)^type=USER_LOGIN msg=audit\([0-9]+\.[0-9]+:[0-9]+\): .*exe="/usr/(sbin/sshd|lib/openssh/sshd-session)".*addr=10\.0\.2\.2.*res=success`,
			// audit=1: the kernel audited the init's ruleset before the daemon ran
			`(?m)^type=NETFILTER_CFG msg=audit\([0-9.:]+\): table=genai:[0-9]+ family=1 .*op=nft_register_chain`,
			`(?m)^type=SERVICE_START msg=audit\([0-9.:]+\): .*unit=sshd comm="consciousness-init" .*res=success`,
			`(?m)^type=SERVICE_START msg=audit\([0-9.:]+\): .*unit=ssh-host-keys .*res=success`,
		} {
			if !regexp.MustCompile(re).MatchString(log) {
				t.Errorf("audit.log has no record matching %s", re)
			}
		}
		var logins []string
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "LOGIN") || strings.Contains(l, "SERVICE_") {
				logins = append(logins, l)
			}
		}
		t.Logf("audit.log: %d lines; the login and service records:\n%s", strings.Count(log, "\n"), strings.Join(logins, "\n"))
		if ls := run("ls -l /var/log/audit/audit.log", false); !strings.HasPrefix(strings.TrimSpace(ls), "-rw-------") {
			t.Errorf("audit.log mode: %s", ls)
		}
	})

	t.Run("off", func(t *testing.T) {
		b := start(t, firewallOffEdition)
		consoleHas(t, b.vm, `genai-os: firewall off\r?\n`)
		var got string
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(got, hello) && time.Now().Before(deadline) {
			if got = readBanner(b.webAddr, 5*time.Second); !strings.Contains(got, hello) {
				time.Sleep(time.Second)
			}
		}
		if !strings.Contains(got, hello) {
			t.Fatalf("with the firewall off, tcp/8080 brought %q, want %s: the test cannot see an open port\n%s", got, hello, b.vm.Console())
		}
	})
}

// TestFirewallFailsClosed boots the firewall edition with a module list that lacks the firewall's
// modules (an overlay replaces it): the init cannot set the firewall up, so it says why, starts
// no unit and halts; SSH never answers.
func TestFirewallFailsClosed(t *testing.T) {
	needQEMU(t)
	res := buildISO(t, firewallEdition+"-broken", build.Options{Edition: firewallEdition, EditionsDir: firewallEditionsDir(t),
		ExtraOverlays: []string{"testdata/firewall", "testdata/firewall-broken"}})
	sshAddr, sshPort := freePort(t)
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD,
		HostFwd: []string{"tcp:127.0.0.1:" + sshPort + "-:22"}}, 6*time.Minute)
	line, err := vm.WaitFor(regexp.MustCompile(`genai-os: (ready|failed) [^\n]*`))
	if err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	if !strings.Contains(line, `failed reason=firewall edition=server-firewall detail="module crc32c_generic is not in /etc/consciousness/modules"`) {
		t.Fatalf("verdict %q, want failed reason=firewall", line)
	}
	if _, err := vm.WaitWithin(regexp.MustCompile(`genai-os: halted`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := readBanner(sshAddr, 10*time.Second); got != "" {
		t.Errorf("SSH answered a system whose firewall failed: %q", got)
	}
}
