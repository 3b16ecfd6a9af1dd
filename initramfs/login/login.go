// Package login is the console's getty and login: it prints /etc/issue, asks
// for a user name and a password (echo off), and checks them against
// /etc/passwd and /etc/shadow. Accounts whose shadow entry is locked, empty or
// in a scheme it cannot check never log in.
package login

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Account is a passwd(5) entry.
type Account struct {
	Name     string
	UID, GID int
	Home     string
	Shell    string
}

// ErrUnknownUser is returned by Lookup for a name with no passwd entry.
var ErrUnknownUser = errors.New("no such user")

// Lookup returns name's passwd entry and its shadow hash ("" when shadow has
// no line for it: no login) from root's etc/passwd and etc/shadow.
func Lookup(root, name string) (Account, string, error) {
	acct, err := findField(filepath.Join(root, "etc/passwd"), name, 7)
	if err != nil {
		return Account{}, "", err
	}
	uid, err1 := strconv.Atoi(acct[2])
	gid, err2 := strconv.Atoi(acct[3])
	if err1 != nil || err2 != nil {
		return Account{}, "", fmt.Errorf("/etc/passwd: %s: bad uid or gid", name)
	}
	a := Account{Name: name, UID: uid, GID: gid, Home: acct[5], Shell: acct[6]}
	if a.Home == "" {
		a.Home = "/"
	}
	sh, err := findField(filepath.Join(root, "etc/shadow"), name, 2)
	if err != nil {
		if errors.Is(err, ErrUnknownUser) || errors.Is(err, os.ErrNotExist) {
			return a, "", nil
		}
		return a, "", err
	}
	return a, sh[1], nil
}

// findField returns the colon-separated fields of name's line in file (at least min of them).
func findField(file, name string, min int) ([]string, error) {
	var found []string
	err := EachLine(file, func(fs []string) bool {
		if len(fs) >= min && fs[0] == name {
			found = fs
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrUnknownUser)
	}
	return found, nil
}

// EachLine calls f with the colon-separated fields of each line of file (passwd(5), group(5),
// shadow(5)) until f returns false.
func EachLine(file string, f func(fields []string) bool) error {
	h, err := os.Open(file)
	if err != nil {
		return err
	}
	defer h.Close()
	sc := bufio.NewScanner(h)
	for sc.Scan() {
		if !f(strings.Split(sc.Text(), ":")) {
			return nil
		}
	}
	return sc.Err()
}

// Getty asks for a login on one terminal.
type Getty struct {
	In    io.Reader
	Out   io.Writer
	Echo  func(on bool) error // turns the terminal's echo on or off; nil: no control (a pipe)
	Root  string              // where etc/passwd, etc/shadow and etc/issue are
	Host  string              // printed in the prompt ("<host> login: ")
	Delay time.Duration       // pause after a failed attempt (login(1) uses about 3 s)
	Tries int                 // attempts before Login gives up; 0: 3
}

// ErrTooManyTries is returned by Login after Tries failures; the caller starts over.
var ErrTooManyTries = errors.New("too many failed logins")

// Login runs the prompt until a user logs in, Tries attempts fail, or the
// input ends (io.EOF).
func (g Getty) Login() (Account, error) {
	tries := g.Tries
	if tries == 0 {
		tries = 3
	}
	in := bufio.NewReader(g.In)
	if issue, err := os.ReadFile(filepath.Join(g.Root, "etc/issue")); err == nil {
		g.Out.Write(expandIssue(issue, g.Host))
	}
	for range tries {
		prompt := "login: "
		if g.Host != "" {
			prompt = g.Host + " login: "
		}
		fmt.Fprint(g.Out, prompt)
		name, err := readLine(in)
		if err != nil {
			return Account{}, err
		}
		if name == "" {
			continue
		}
		// Echo goes off before the prompt, as getpass(3) does: whatever is typed once the prompt
		// shows is never echoed.
		if g.Echo != nil {
			if err := g.Echo(false); err != nil {
				return Account{}, fmt.Errorf("echo off: %w", err)
			}
		}
		fmt.Fprint(g.Out, "Password: ")
		pw, err := readLine(in)
		if g.Echo != nil {
			g.Echo(true)
		}
		fmt.Fprint(g.Out, "\r\n")
		if err != nil {
			return Account{}, err
		}
		// The same answer and delay whatever went wrong: no hint whether the user exists.
		a, hash, lerr := Lookup(g.Root, name)
		if lerr == nil {
			if ok, _ := Verify(hash, pw); ok {
				return a, nil
			}
		}
		time.Sleep(g.Delay)
		fmt.Fprint(g.Out, "Login incorrect\r\n\r\n")
	}
	return Account{}, ErrTooManyTries
}

// readLine reads one line, accepting "\r", "\n" or "\r\n" as its end (a
// serial terminal in raw-ish modes sends "\r").
func readLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && b.Len() > 0 {
				return b.String(), nil
			}
			return "", err
		}
		switch c {
		case '\n':
			return b.String(), nil
		case '\r':
			if next, err := r.Peek(1); err == nil && next[0] == '\n' {
				r.ReadByte()
			}
			return b.String(), nil
		case 0x7f, 0x08: // DEL, BS: the terminal may not be in canonical mode
			s := b.String()
			if len(s) > 0 {
				b.Reset()
				b.WriteString(s[:len(s)-1])
			}
		default:
			b.WriteByte(c)
		}
	}
}

// expandIssue replaces agetty's \n (host name) and removes other backslash escapes of issue(5).
func expandIssue(issue []byte, host string) []byte {
	s := strings.ReplaceAll(string(issue), `\n`, host)
	s = strings.ReplaceAll(s, `\l`, "")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}
