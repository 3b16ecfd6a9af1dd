package boot_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// testCA makes a throwaway CA and a server certificate it signs for the address the guest reaches
// the host by on QEMU's user network (10.0.2.2). It returns the CA in PEM and the server's pair.
func testCA(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "genai-build test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err = x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "10.0.2.2"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("10.0.2.2")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: srvKey}
}

// devSources are the projects the test builds in the guest, by file name.
var devSources = map[string]string{
	"hello.c":         "#include <stdio.h>\nint main(void) { printf(\"hello from C %d\\n\", 6 * 7); return 0; }\n",
	"hello.cpp":       "#include <iostream>\n#include <vector>\nint main() { std::vector<int> v{1, 2, 3}; std::cout << \"hello from C++ \" << v.size() << std::endl; }\n",
	"gohello/main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nfunc main() { fmt.Println(\"hello from Go\", runtime.Version()) }\n",
	"gohello/go.mod":  "module example.com/gohello\n\ngo 1.24\n",
	"mk/Makefile":     "app: main.o util.o\n\tcc -o $@ main.o util.o\n\n%.o: %.c util.h\n\tcc -c -O2 -Wall -Werror -o $@ $<\n",
	"mk/util.h":       "int twice(int);\n",
	"mk/util.c":       "#include \"util.h\"\nint twice(int x) { return 2 * x; }\n",
	"mk/main.c":       "#include <stdio.h>\n#include \"util.h\"\nint main(void) { printf(\"hello from make %d\\n\", twice(21)); return 0; }\n",
}

// TestDeveloper builds the developer edition as a user would, with a key for dev (--ssh-key) and a
// local CA (an extra overlay with usr/local/share/ca-certificates/*.crt), boots its ISO from CD,
// logs in as dev over SSH and works there: C, C++, Go and make builds, git, sudo, dpkg's view of
// the system, and HTTPS to a server on the host that only the local CA vouches for.
func TestDeveloper(t *testing.T) {
	needQEMU(t)
	caPEM, srvCert := testCA(t)
	overlay := t.TempDir()
	crt := filepath.Join(overlay, "usr/local/share/ca-certificates/genai-test.crt")
	if err := os.MkdirAll(filepath.Dir(crt), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crt, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over TLS, %s\n", r.UserAgent())
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert}}
	srv.StartTLS()
	defer srv.Close()
	_, httpsPort, _ := net.SplitHostPort(srv.Listener.Addr().String())

	signer, authorized := testKey(t)
	res := buildISO(t, "developer-ssh", build.Options{Edition: "developer",
		SSHKeys: []string{authorized}, ExtraOverlays: []string{overlay}})
	if res.Placement != "image" {
		t.Errorf("placement = %s, want image (root on the medium)", res.Placement)
	}
	addr, port := freePort(t)
	// Go's first build compiles the standard library under TCG: minutes, and memory.
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD, MemoryMB: 2048,
		HostFwd: []string{"tcp:127.0.0.1:" + port + "-:22"}}, 15*time.Minute)
	if _, err := vm.Find(readyLine("developer"), 3*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "dev", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("ssh dev@: %v\nconsole:\n%s", err, vm.Console())
	}
	defer client.Close()
	// run runs cmd in dev's login shell (bash) and returns its output; stdin, when set, is its input.
	run := func(cmd, stdin string) string {
		t.Helper()
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if stdin != "" {
			s.Stdin = strings.NewReader(stdin)
		}
		start := time.Now()
		out, err := s.CombinedOutput(cmd)
		t.Logf("$ %s  (%s)\n%s", cmd, time.Since(start).Round(100*time.Millisecond), out)
		if err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
		return string(out)
	}
	expect := func(out string, want string) {
		t.Helper()
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output does not match %q:\n%s", want, out)
		}
	}
	expect(run("id; echo $SHELL; pwd", ""), `uid=1000\(dev\) gid=1000\(dev\) groups=1000\(dev\),27\(sudo\)\n/bin/bash\n/home/dev\n`)
	for name, src := range devSources {
		run("mkdir -p \"$(dirname "+name+")\" && cat > "+name, src)
	}
	expect(run("cc -Wall -o hello hello.c && ./hello", ""), `(?m)^hello from C 42$`)
	expect(run("c++ -Wall -o hellopp hello.cpp && ./hellopp", ""), `(?m)^hello from C\+\+ 3$`)
	expect(run("cd mk && make && ./app", ""), `(?m)^hello from make 42$`)
	// Offline: the standard library only, no module download, no toolchain switch.
	expect(run("cd gohello && GOPROXY=off GOTOOLCHAIN=local go build && ./gohello", ""), `(?m)^hello from Go go1\.24`)
	expect(run(`git init -q repo && cd repo && echo hi > README && git add README &&
git -c user.name=Dev -c user.email=dev@genai.invalid commit -q -m "first commit" && git log --oneline`, ""), `(?m)^[0-9a-f]{7,} first commit$`)
	// Every package installed and configured, as dpkg itself reads its database.
	if out := run("dpkg --audit", ""); out != "" {
		t.Errorf("dpkg --audit printed:\n%s", out)
	}
	expect(run("dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' | grep -vc '^ii ' || true", ""), `^0\n$`)
	expect(run("dpkg -l gcc-14 git golang-go", ""), `(?m)^ii\s+gcc-14\s`)
	expect(run("update-alternatives --display cc", ""), `(?s)link currently points to /usr/bin/gcc`)
	expect(run("sudo -n true && sudo -n id -u", ""), `^0\n$`)
	expect(run("curl -sS https://10.0.2.2:"+httpsPort+"/", ""), `(?m)^hello over TLS, curl/`)
	// With only a public root (and no CA folder to look in), curl must refuse the server: the
	// trust came from the overlay's local CA.
	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.CombinedOutput("curl -sS --cacert /etc/ssl/certs/ISRG_Root_X1.pem --capath /nonexistent https://10.0.2.2:" + httpsPort + "/")
	s.Close()
	if err == nil || !strings.Contains(string(out), "certificate") {
		t.Errorf("curl with a public root only: err = %v, want a certificate error:\n%s", err, out)
	}
}
