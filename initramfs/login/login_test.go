package login

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// "Hello world!" with salt "saltstring" (the spec's first test vector).
const helloHash = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"

func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/gosh\nops:x:1000:1000:ops:/home/ops:/bin/sh\n" +
			"locked:x:1001:1001::/home/locked:/bin/sh\nnopw:x:1002:1002::/:/bin/sh\nyes:x:1003:1003::/:/bin/sh\nbc:x:1004:1004::/:/bin/sh\n",
		"etc/shadow": "root:*:19000::::::\nops:" + helloHash + ":19000:0:99999:7:::\n" +
			"locked:!" + helloHash + ":19000::::::\nnopw::19000::::::\nyes:" + yescryptHash + ":19000::::::\n" +
			"bc:$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui:19000::::::\n",
		"etc/issue": "GenAI OS \\n \\l\n\n",
	}
	for p, s := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// echoLog records the echo changes and checks the password is read with echo off.
type echoLog struct {
	mu  sync.Mutex
	log []bool
}

func (e *echoLog) set(on bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, on)
	return nil
}

func TestGetty(t *testing.T) {
	root := fakeRoot(t)
	for _, tc := range []struct {
		name   string
		input  string
		want   string // user logged in, "" for none
		err    error
		failed int // "Login incorrect" lines
	}{
		{"right password", "ops\rHello world!\r", "ops", nil, 0},
		{"newline endings", "ops\nHello world!\n", "ops", nil, 0},
		{"wrong then right", "ops\rhello\rops\rHello world!\r", "ops", nil, 1},
		{"wrong password, three times", "ops\rx\rops\ry\rops\rz\r", "", ErrTooManyTries, 3},
		{"locked account with its right password", "locked\rHello world!\r", "", io.EOF, 1},
		{"empty password field", "nopw\r\r", "", io.EOF, 1},
		{"root without a password (*)", "root\r\r", "", io.EOF, 1},
		{"yescrypt, Debian's default", "yes\rcorrect horse\r", "yes", nil, 0},
		{"yescrypt, wrong password", "yes\rcorrect hors\r", "", io.EOF, 1},
		{"unsupported hash (bcrypt)", "bc\rHello world!\r", "", io.EOF, 1},
		{"unknown user", "nobody\rHello world!\r", "", io.EOF, 1},
		{"blank user name asks again", "\rops\rHello world!\r", "ops", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			go func() { io.WriteString(w, tc.input); w.Close() }()
			defer r.Close()
			var out bytes.Buffer
			var echo echoLog
			a, err := Getty{In: r, Out: &out, Echo: echo.set, Root: root, Host: "genai-server"}.Login()
			if !errors.Is(err, tc.err) || a.Name != tc.want {
				t.Fatalf("Login = %+v, %v; want %q, %v\noutput:\n%s", a, err, tc.want, tc.err, out.String())
			}
			if tc.want == "ops" && (a.UID != 1000 || a.GID != 1000 || a.Home != "/home/ops" || a.Shell != "/bin/sh") {
				t.Errorf("account %+v", a)
			}
			o := out.String()
			if !strings.HasPrefix(o, "GenAI OS genai-server \r\n\r\ngenai-server login: ") || !strings.Contains(o, "Password: ") {
				t.Errorf("output starts %q", o)
			}
			if n := strings.Count(o, "Login incorrect"); n != tc.failed {
				t.Errorf("%d failures reported, want %d:\n%s", n, tc.failed, o)
			}
			if strings.Contains(o, "Hello world!") {
				t.Errorf("the password was printed:\n%s", o)
			}
			for i, on := range echo.log {
				if on != (i%2 == 1) {
					t.Errorf("echo changes %v: want off, on, off, on...", echo.log)
					break
				}
			}
		})
	}
}

// openPty opens a pseudo-terminal pair (pty(7)) or skips the test.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestGettyPty runs the prompt on a real terminal: the password must not echo.
func TestGettyPty(t *testing.T) {
	root := fakeRoot(t)
	master, slave := openPty(t)
	// The terminal's output, and a signal on every read, so that waitFor waits on what the terminal
	// shows rather than on time.
	var out bytes.Buffer
	var mu sync.Mutex
	grew := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			select {
			case grew <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	// waitFor waits for s to appear after what the last waitFor matched.
	seen := 0
	waitFor := func(s string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			mu.Lock()
			i := strings.Index(out.String()[seen:], s)
			if i >= 0 {
				seen += i + len(s)
			}
			mu.Unlock()
			if i >= 0 {
				return
			}
			select {
			case <-grew:
			case <-deadline:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("terminal never showed %q after %q", s, out.String()[:seen])
			}
		}
	}
	type result struct {
		a   Account
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := Getty{In: slave, Out: slave, Echo: TermEcho(slave), Root: root}.Login()
		done <- result{a, err}
	}()
	waitFor("login: ")
	master.Write([]byte("ops\r"))
	waitFor("Password: ") // echo is off once the prompt shows
	master.Write([]byte("wrong\r"))
	waitFor("Login incorrect")
	waitFor("login: ")
	master.Write([]byte("ops\r"))
	waitFor("Password: ")
	master.Write([]byte("Hello world!\r"))
	select {
	case r := <-done:
		if r.err != nil || r.a.Name != "ops" {
			t.Fatalf("Login = %+v, %v", r.a, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no login")
	}
	mu.Lock()
	defer mu.Unlock()
	if o := out.String(); strings.Contains(o, "Hello world!") || strings.Contains(o, "wrong") {
		t.Errorf("the password echoed on the terminal:\n%q", o)
	}
	if o := out.String(); !strings.Contains(o, "ops") {
		t.Errorf("the user name did not echo:\n%q", o)
	}
}
