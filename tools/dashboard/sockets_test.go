package dashboard

import (
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/svc"
)

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
const tcp6Header = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
const unixHeader = "Num       RefCount Protocol Flags    Type St Inode Path\n"

func TestParseInet(t *testing.T) {
	ks, err := parseInet("tcp", []byte(tcpHeader+
		"   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 300 1 0000000000000000 100 0 0 10 0\n"+
		"   1: 0F02000A:0016 0202000A:C350 01 00000000:00000000 00:00000000 00000000     0        0 301 1 0000000000000000 100 0 0 10 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 1 || ks[0].String() != "tcp 127.0.0.1:631" || ks[0].inode != 300 {
		t.Errorf("got %v, want only the listener tcp 127.0.0.1:631 (inode 300)", ks)
	}
	ks, err = parseInet("tcp6", []byte(tcp6Header+
		"   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0000000000000000 100 0 0 10 0\n"+
		"   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].String() != "tcp6 [::]:22" || ks[1].String() != "tcp6 [::1]:8080" {
		t.Errorf("got %v, want tcp6 [::]:22 and [::1]:8080", ks)
	}
	if _, err := parseInet("udp", []byte(tcpHeader+"   0: XYZ:0016 00000000:0000 07 0 0 0 0 0 1 0\n")); err == nil {
		t.Error("a bad address parsed")
	}
}

func TestSocketChecks(t *testing.T) {
	files := map[string]string{
		"proc/net/tcp": tcpHeader +
			"   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 300 1 0000000000000000 100 0 0 10 0\n",
		"proc/net/tcp6": tcp6Header +
			"   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0000000000000000 100 0 0 10 0\n",
		"proc/net/udp": tcpHeader +
			"   0: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 400 2 0000000000000000 0\n",
		"proc/net/unix": unixHeader +
			"0000000000000000: 00000002 00000000 00010000 0001 01 500 /run/consciousness/control.sock\n" +
			"0000000000000000: 00000002 00000000 00000000 0001 03 501 /run/consciousness/control.sock\n" +
			"0000000000000000: 00000002 00000000 00000000 0001 03 502\n",
		"proc/1/comm": "consciousness-i\n", "proc/1/stat": "1 (consciousness-i) S 0 1 1",
		"proc/1/fd/3": "->socket:[100]", "proc/1/fd/4": "->socket:[500]", "proc/1/fd/5": "->/dev/null",
		"proc/200/comm": "sshd\n", "proc/200/stat": "200 (sshd) S 1 200 200", "proc/200/fd/3": "->socket:[100]",
		"proc/300/comm": "cupsd\n", "proc/300/stat": "300 (cups d) S 1 300", "proc/300/fd/7": "->socket:[300]",
		"proc/301/comm": "worker\n", "proc/301/stat": "301 (worker) S 300 300", "proc/301/fd/7": "->socket:[400]",
		"etc/consciousness/services/sshd.socket":  "[Socket]\nListenStream=22\n",
		"etc/consciousness/services/sshd.service": "[Service]\nExecStart=/usr/sbin/sshd -D\n",
	}
	units := []svc.Status{{Name: "sshd.service", State: svc.Running, PID: 200}, {Name: "cups.service", State: svc.Running, PID: 300}}
	for _, tc := range []struct {
		name   string
		units  []svc.Status
		check  string
		status Status
		owner  string
		reason string
	}{
		{"socket unit", units, "tcp6 [::]:22", Pass, "sshd.socket", "sshd.socket: the init listens, served by sshd.service pid 200; reachable from the network"},
		{"service", units, "tcp 127.0.0.1:631", Pass, "cups.service", "cups.service pid 300"},
		{"child of a service", units, "udp 0.0.0.0:68", Pass, "cups.service", "cups.service pid 301; reachable"},
		{"the init", units, "unix /run/consciousness/control.sock", Pass, "consciousness-init", "the init itself"},
		{"no unit", []svc.Status{}, "tcp 127.0.0.1:631", Warn, "", "no unit started 300(cupsd)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := socketChecks(fixture(t, files, tc.units...))
			f := only(t, fs, tc.check)
			if f.Status != tc.status || f.Data["owner"] != tc.owner || !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("got %s owner %q %q, want %s owner %q with %q", f.Status, f.Data["owner"], f.Reason, tc.status, tc.owner, tc.reason)
			}
			if len(fs) != 4 {
				t.Errorf("%d findings, want 4 (connected and unbound unix sockets left out): %+v", len(fs), fs)
			}
		})
	}
	s := fixture(t, files)
	s.Units = func() ([]svc.Status, error) { return nil, errString("connection refused") }
	if f := only(t, socketChecks(s), "units"); f.Status != Warn || !strings.Contains(f.Reason, "connection refused") {
		t.Errorf("no init: %s %q", f.Status, f.Reason)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
