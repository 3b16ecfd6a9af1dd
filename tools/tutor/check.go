package tutor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

// Check is one thing a step asks for, as the lesson's header names it ("unit-running demo.service").
type Check struct {
	Kind string
	Args []string
}

func (c Check) String() string { return strings.TrimSpace(c.Kind + " " + strings.Join(c.Args, " ")) }

// checkKinds: the kinds a lesson may use, with their argument count (-1: the rest of the line,
// split on spaces, at least one; -2: a path then the rest of the line as one text).
var checkKinds = map[string]int{
	"unit-running":     1, // the init says the unit is running (or exited, for a oneshot)
	"unit-stopped":     1, // the init says the unit is not running
	"level-at-least":   1, // the init's level is at least this
	"level-at-most":    1, // the init's level is at most this
	"file-exists":      1, // a path (~ is the learner's home)
	"file-contains":    -2,
	"key-authorized":   1,  // the public key in this file is a line of ~/.ssh/authorized_keys
	"command-succeeds": -1, // run as the learner, no shell, 10 s at most, exit status 0
}

// ParseCheck reads "KIND ARGS".
func ParseCheck(s string) (Check, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	rest = strings.TrimSpace(rest)
	n, ok := checkKinds[kind]
	if !ok {
		return Check{}, fmt.Errorf("unknown check %q (known: unit-running, unit-stopped, level-at-least, level-at-most, file-exists, file-contains, key-authorized, command-succeeds)", kind)
	}
	c := Check{Kind: kind}
	switch n {
	case 1:
		c.Args = strings.Fields(rest)
		if len(c.Args) != 1 {
			return Check{}, fmt.Errorf("check %s: want one argument, got %q", kind, rest)
		}
	case -1:
		c.Args = strings.Fields(rest)
		if len(c.Args) == 0 {
			return Check{}, fmt.Errorf("check %s: want a command", kind)
		}
	case -2:
		path, text, _ := strings.Cut(rest, " ")
		text = strings.TrimSpace(text)
		if path == "" || text == "" {
			return Check{}, fmt.Errorf("check %s: want a path and a text", kind)
		}
		c.Args = []string{path, text}
	}
	if strings.HasPrefix(kind, "level-") {
		if _, err := bootconf.ParseLevel(c.Args[0]); err != nil {
			return Check{}, fmt.Errorf("check %s: %w", kind, err)
		}
	}
	return c, nil
}

// Init is what the checks ask the init: every unit's status and the running level.
type Init interface {
	Status(ctx context.Context) (level string, units []svc.Status, err error)
}

// CtlInit asks the init over its control socket. The socket answers root and group consciousness
// only; when it refuses, and Sudo is set, the same request goes through
// `sudo -n consciousness-manager --json status` (a learner of the developer edition has sudo).
type CtlInit struct {
	Socket string
	Sudo   []string // the command to fall back on; nil: none
}

// DefaultInit is the init of the running system.
func DefaultInit() *CtlInit {
	return &CtlInit{Socket: ctl.DefaultSocket, Sudo: []string{"sudo", "-n", "consciousness-manager", "--json", "status"}}
}

// ErrNoInit: the init's control socket could not be asked.
var ErrNoInit = errors.New("cannot ask the init")

func (c *CtlInit) Status(ctx context.Context) (string, []svc.Status, error) {
	r, err := ctl.Call(ctx, c.Socket, ctl.Request{Verb: "status"}, nil)
	// The init answers a peer it refuses before reading its request, so the request's write may
	// also meet a closed socket (EPIPE, ECONNRESET).
	denied := errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		err == nil && strings.HasPrefix(r.Error, "permission denied")
	if denied && c.Sudo != nil {
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, c.Sudo[0], c.Sudo[1:]...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if e := cmd.Run(); e != nil {
			return "", nil, fmt.Errorf("%w: %s refuses you (root or group consciousness only), and %s failed: %v %s",
				ErrNoInit, c.Socket, strings.Join(c.Sudo, " "), e, strings.TrimSpace(errb.String()))
		}
		r = ctl.Response{}
		err = json.Unmarshal(out.Bytes(), &r)
	}
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrNoInit, c.Socket, err)
	}
	if r.Error != "" {
		return "", nil, fmt.Errorf("%w: %s", ErrNoInit, r.Error)
	}
	return r.Level, r.Services, nil
}

// Env is what checks run against.
type Env struct {
	Init Init
	Home string // ~ in paths
}

func (e Env) path(p string) string {
	if p == "~" {
		return e.Home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(e.Home, rest)
	}
	return p
}

// Run runs the check; a nil error means it passed, else the error says what is missing.
func (e Env) Run(ctx context.Context, c Check) error {
	switch c.Kind {
	case "unit-running", "unit-stopped":
		_, units, err := e.Init.Status(ctx)
		if err != nil {
			return err
		}
		name := c.Args[0]
		for _, u := range units {
			if u.Name != name {
				continue
			}
			running := u.State == svc.Running || u.State == svc.Exited
			why := string(u.State)
			if u.Result != "" {
				why += " (" + u.Result + ")"
			}
			if c.Kind == "unit-running" && !running {
				return fmt.Errorf("%s is %s; it should be running", name, why)
			}
			if c.Kind == "unit-stopped" && running {
				return fmt.Errorf("%s is still %s; it should be stopped", name, why)
			}
			return nil
		}
		return fmt.Errorf("the init has no unit %s", name)
	case "level-at-least", "level-at-most":
		cur, _, err := e.Init.Status(ctx)
		if err != nil {
			return err
		}
		have, err := bootconf.ParseLevel(cur)
		if err != nil {
			return fmt.Errorf("the init's level %q: %w", cur, err)
		}
		want, _ := bootconf.ParseLevel(c.Args[0]) // checked by ParseCheck
		if c.Kind == "level-at-least" && have < want {
			return fmt.Errorf("the level is %s; it should be at least %s", have, want)
		}
		if c.Kind == "level-at-most" && have > want {
			return fmt.Errorf("the level is %s; it should be at most %s", have, want)
		}
		return nil
	case "file-exists":
		if _, err := os.Stat(e.path(c.Args[0])); err != nil {
			return fmt.Errorf("%s does not exist yet", c.Args[0])
		}
		return nil
	case "file-contains":
		b, err := os.ReadFile(e.path(c.Args[0]))
		if err != nil {
			return fmt.Errorf("%s cannot be read: %v", c.Args[0], errors.Unwrap(err))
		}
		if !bytes.Contains(b, []byte(c.Args[1])) {
			return fmt.Errorf("%s does not contain %q", c.Args[0], c.Args[1])
		}
		return nil
	case "key-authorized":
		return e.keyAuthorized(c.Args[0])
	case "command-succeeds":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
		cmd.Dir = e.Home
		out, err := cmd.CombinedOutput()
		if err != nil {
			msg := strings.TrimSpace(string(out))
			if len(msg) > 400 {
				msg = msg[len(msg)-400:]
			}
			if msg != "" {
				msg = ": " + msg
			}
			return fmt.Errorf("`%s` failed (%v)%s", strings.Join(c.Args, " "), err, msg)
		}
		return nil
	}
	return fmt.Errorf("unknown check %q", c.Kind)
}

// keyAuthorized: the key (type and base64 blob, the comment aside) of the public key file is on
// a line of ~/.ssh/authorized_keys (sshd(8), AUTHORIZED_KEYS FILE FORMAT: options, type, key,
// comment).
func (e Env) keyAuthorized(pubPath string) error {
	b, err := os.ReadFile(e.path(pubPath))
	if err != nil {
		return fmt.Errorf("%s cannot be read: %v", pubPath, errors.Unwrap(err))
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || !strings.HasPrefix(f[0], "ssh-") && !strings.HasPrefix(f[0], "ecdsa-") && !strings.HasPrefix(f[0], "sk-") {
		return fmt.Errorf("%s is not an OpenSSH public key (want \"ssh-ed25519 AAAA... comment\")", pubPath)
	}
	ak, err := os.ReadFile(filepath.Join(e.Home, ".ssh/authorized_keys"))
	if err != nil {
		return fmt.Errorf("~/.ssh/authorized_keys cannot be read: %v", errors.Unwrap(err))
	}
	for _, line := range strings.Split(string(ak), "\n") {
		lf := strings.Fields(line)
		for i := 0; i+1 < len(lf); i++ {
			if lf[i] == f[0] && lf[i+1] == f[1] {
				return nil
			}
		}
	}
	return fmt.Errorf("the key in %s is not in ~/.ssh/authorized_keys", pubPath)
}
