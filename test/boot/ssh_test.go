package boot_test

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// TestSSH builds the server ISO with a root key given at build time (genai-build iso --ssh-key),
// boots it with a host port forwarded to the guest's port 22, and logs in with that key; a login
// with a password is refused. sshd is socket-activated: the first connection starts one sshd
// daemon (Type=notify) that gets the init's listening socket and serves the later ones.
func TestSSH(t *testing.T) {
	sshLogin(t, "ssh", nil, []*regexp.Regexp{
		regexp.MustCompile(`sshd\.socket\s+running\s.*listening on :22 for sshd\.service`),
		regexp.MustCompile(`sshd\.service\s+running\s+\d+`),
		regexp.MustCompile(`ssh-host-keys\.service\s+exited`),
	})
}

// TestSSHPerConnection is TestSSH with the socket switched to Accept=yes (an overlay): one sshd -i
// per connection, with the connection as its stdin and stdout.
func TestSSHPerConnection(t *testing.T) {
	sshLogin(t, "ssh-inetd", []string{"testdata/ssh-per-connection"}, []*regexp.Regexp{
		regexp.MustCompile(`sshd\.socket\s+running\s.*listening on :22, \d+ accepted, 1 active`),
		regexp.MustCompile(`sshd@\.service\s+running\s.*1 running`),
		regexp.MustCompile(`ssh-host-keys\.service\s+exited`),
	})
}

// sshLogin builds the server ISO (with overlays) and a root key, boots it, logs in over SSH, and
// checks uname, the packages dpkg knows, that `consciousness-manager status` matches every one of
// status, that a password is refused and that every connection sees the same host key.
func sshLogin(t *testing.T, name string, overlays []string, status []*regexp.Regexp) {
	needQEMU(t)
	signer, authorized := testKey(t)
	res := buildISO(t, name, build.Options{SSHKeys: []string{authorized},
		ExtraOverlays: overlays})
	// A free port on the host for QEMU's forward.
	addr, port := freePort(t)

	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD, HostFwd: []string{"tcp:127.0.0.1:" + port + "-:22"}}, 5*time.Minute)
	if _, err := vm.WaitFor(regexp.MustCompile(`genai-os: network iface=\S+ addr=10\.0\.2\.15/24`)); err != nil {
		t.Fatal(err)
	}
	// The host key is made on the first connection; later ones must present the same key.
	var hostKeys []string
	keep := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		hostKeys = append(hostKeys, ssh.FingerprintSHA256(key))
		return nil
	}
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: keep, Timeout: 20 * time.Second}
	// The ready line means sshd.socket listens (the init opened it before the line): one dial, no
	// retries, is what a user's first ssh after "ready" does.
	if _, err := vm.Find(ready, time.Minute); err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("ssh: %v\nconsole:\n%s", err, vm.Console())
	}
	defer client.Close()
	run := func(cmd string) string {
		t.Helper()
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out, err := s.CombinedOutput(cmd)
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	uname := run("uname -a")
	t.Logf("uname -a: %s", uname)
	if !strings.Contains(uname, "Linux") || !strings.Contains(uname, "6.12") {
		t.Errorf("uname -a = %q, want Linux 6.12", uname)
	}
	st := run("consciousness-manager status")
	t.Logf("consciousness-manager status:\n%s", st)
	for _, want := range status {
		if !want.MatchString(st) {
			t.Errorf("status does not match %s:\n%s", want, st)
		}
	}
	// The image's package database, as dpkg itself reads it.
	dpkg := run("dpkg -l openssh-server libc6")
	t.Logf("dpkg -l:\n%s", dpkg)
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`(?m)^ii\s+openssh-server\s+1:10`), regexp.MustCompile(`(?m)^ii\s+libc6:amd64\s+2\.41`)} {
		if !want.MatchString(dpkg) {
			t.Errorf("dpkg -l does not match %s", want)
		}
	}
	// A password is refused, whatever it is: the server offers no password method.
	_, err = ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password("root"), ssh.Password("")},
		HostKeyCallback: keep, Timeout: 20 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("password login: err = %v, want it refused", err)
	}
	if n := len(hostKeys); n < 2 || hostKeys[0] != hostKeys[n-1] {
		t.Errorf("host keys seen: %v, want one key on every connection", hostKeys)
	}
}
