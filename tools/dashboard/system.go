package dashboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

// System is what the checks look at.
type System struct {
	// Root is the file system's root: "/" on a running system, a fixture tree in tests. /proc and
	// /sys are read under it too.
	Root string
	// Units returns the init's services with their main PIDs (ctl "status"); nil or an error: the
	// sockets are attributed to processes only.
	Units func() ([]svc.Status, error)
	// Run runs a program of the system (sshd -T, nft list ruleset) and returns its output; nil:
	// the checks read files only.
	Run func(name string, args ...string) ([]byte, error)
	// Root privileges: /etc/shadow and other processes' file descriptors need them.
	Privileged bool
}

// Live is the running system: the root file system, the init's control socket, and programs run
// with a time limit.
func Live() *System {
	return &System{
		Root: "/",
		Units: func() ([]svc.Status, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := ctl.Call(ctx, ctl.DefaultSocket, ctl.Request{Verb: "status"}, nil)
			if err != nil {
				return nil, fmt.Errorf("the init's control socket %s: %w", ctl.DefaultSocket, err)
			}
			if resp.Error != "" {
				return nil, fmt.Errorf("the init: %s", resp.Error)
			}
			return resp.Services, nil
		},
		Run:        runProgram,
		Privileged: os.Geteuid() == 0,
	}
}

// path is p (absolute, as on the running system) under s.Root.
func (s *System) path(p string) string { return filepath.Join(s.Root, p) }

func (s *System) read(p string) ([]byte, error) { return os.ReadFile(s.path(p)) }

// exists says whether p exists (an error other than "not there" counts as there).
func (s *System) exists(p string) bool {
	_, err := os.Lstat(s.path(p))
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

// findProgram looks for name in the usual folders of the root and returns its path there.
func (s *System) findProgram(name string) string {
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(s.path(p)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// run runs a program of the system; only on the live root (a fixture's programs are not run).
func (s *System) run(name string, args ...string) ([]byte, error) {
	if s.Run == nil {
		return nil, errors.New("running programs is off")
	}
	return s.Run(name, args...)
}

// lines splits text into trimmed lines, dropping empty ones and '#' comments.
func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}
