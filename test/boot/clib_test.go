package boot_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
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

// TestCLibs boots the developer edition, logs in as dev over SSH, and builds the roadmap's C
// example and the check program of tools/clib/testdata with cc and pkg-config against the
// installed libconsciousness and libgenai, then runs them against the real init: the example gets
// the level change that consciousness-manager makes from another session, the check program
// chats with an OpenAI-compatible server on the host (10.0.2.2 on QEMU's user network).
func TestCLibs(t *testing.T) {
	needQEMU(t)
	chat := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream   bool `json:"stream"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		pieces := []string{"one, ", "two, ", "three"}
		if n := len(req.Messages); n > 0 && strings.Contains(req.Messages[n-1].Content, "6 times 7") {
			pieces = []string{"6 times 7 ", "is 42"}
		}
		if !req.Stream {
			fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":%q}}]}`, strings.Join(pieces, ""))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range pieces {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%q}}]}\n\n", p)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	chat.Listener = l
	chat.Start()
	defer chat.Close()
	_, chatPort, _ := net.SplitHostPort(l.Addr().String())

	signer, authorized := testKey(t)
	res := buildISO(t, "developer-clibs", build.Options{Edition: "developer",
		SSHKeys: []string{authorized}})
	st, err := os.Stat(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("developer ISO: %d bytes", st.Size())
	addr, port := freePort(t)
	vm := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD, MemoryMB: 2048,
		HostFwd: []string{"tcp:127.0.0.1:" + port + "-:22"}}, 10*time.Minute)
	if _, err := vm.Find(readyLine("developer"), 3*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, vm.Console())
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "dev", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("ssh dev@: %v\nconsole:\n%s", err, vm.Console())
	}
	defer client.Close()
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
		out, err := s.CombinedOutput(cmd)
		t.Logf("$ %s\n%s", cmd, out)
		if err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
		return string(out)
	}
	expect := func(out, want string) {
		t.Helper()
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output does not match %q:\n%s", want, out)
		}
	}
	for _, name := range []string{"roadmap.c", "check.c"} {
		src, err := os.ReadFile(filepath.Join(root, "tools/clib/testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		run("cat > "+name, string(src))
	}
	// One file behind both linker names, loaded once (the image has no ldd; the loader lists).
	expect(run("ls -l /usr/lib/x86_64-linux-gnu/libconsciousness.so /usr/lib/x86_64-linux-gnu/libgenai.so && pkg-config --cflags --libs libconsciousness libgenai", ""),
		`(?s)libconsciousness.so -> libgenai-native.so.0.*libgenai.so -> libgenai-native.so.0.*-lgenai -lconsciousness`)
	expect(run("cc -Wall -o roadmap roadmap.c $(pkg-config --cflags --libs libconsciousness libgenai) && /lib64/ld-linux-x86-64.so.2 --list ./roadmap", ""),
		`(?m)^\s+libgenai-native.so.0 => (/usr)?/lib/x86_64-linux-gnu/libgenai-native.so.0 `)
	if out := run("/lib64/ld-linux-x86-64.so.2 --list ./roadmap | grep -c libgenai-native", ""); strings.TrimSpace(out) != "1" {
		t.Errorf("libgenai-native.so.0 is loaded %s times, want once", out)
	}

	// The example runs as root (the control socket is root's and group consciousness's); it prints
	// the level it starts at, then waits for the change another session makes.
	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stdout bytes.Buffer
	pr, pw, _ := os.Pipe()
	s.Stdout, s.Stderr = pw, &stdout
	if err := s.Start("sudo ./roadmap"); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(pr)
	got := make(chan string, 4)
	go func() {
		for lines.Scan() {
			got <- lines.Text()
		}
		close(got)
	}()
	next := func() string {
		select {
		case l := <-got:
			t.Logf("roadmap: %s", l)
			return l
		case <-time.After(time.Minute):
			t.Fatalf("roadmap printed nothing for a minute; stderr: %s", stdout.String())
		}
		return ""
	}
	expect(next(), `^consciousness level [0-9.]+, waiting for a change$`)
	run("sudo consciousness-manager level 0.9", "")
	expect(next(), `^consciousness level changed to 0.9$`)
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("roadmap: %v %s", err, stdout.String())
		}
	case <-time.After(time.Minute):
		t.Error("roadmap did not end after the change")
	}
	pw.Close()

	expect(run("cc -Wall -o check check.c $(pkg-config --cflags --libs libconsciousness libgenai) -lpthread && "+
		"sudo GENAI_ENDPOINT=http://10.0.2.2:"+chatPort+"/v1 GENAI_MODEL=test-model ./check sshd", ""),
		`(?m)^ok genai_chat_stream$(?s).*^all 23 checks passed$`)
}
