package main

import (
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/boot"
	"github.com/genai-os/genai-build/initramfs/login"
	"golang.org/x/sys/unix"
)

// consoleLogin says whether the consoles ask for a login (the default: no
// account without a password can log in) or give a root shell, as
// consciousness.console=shell on the command line or console = shell in
// boot.conf ask for (whoever can edit the kernel command line owns the machine
// anyway).
func (in *initProc) consoleLogin() bool {
	switch {
	case in.cmdline.Console != "":
		return in.cmdline.Console != "shell"
	case in.conf.Console != "":
		return in.conf.Console != "shell"
	}
	return true
}

// gettys starts a login prompt on the console (the serial port on a headless
// machine) and on tty1 (the screen), when that is another terminal.
func (in *initProc) gettys() {
	dev, err := boot.ConsoleDevice(in.root)
	if err != nil {
		in.log.Error("console login", "err", err)
		return
	}
	in.goSafe("console login", func() { in.getty(dev, in.cmdline.Debug) })
	if tty1 := in.path("dev/tty1"); dev != tty1 && dev != "/dev/tty1" {
		if _, err := os.Stat(tty1); err == nil {
			in.goSafe("tty1 login", func() { in.getty(tty1, false) })
		}
	}
}

// getty runs login prompts on dev, and the user's shell after each login,
// forever. With autologin (init.debug, console only), root is logged in
// without a prompt.
func (in *initProc) getty(dev string, autologin bool) {
	host, _ := os.Hostname()
	for {
		f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			in.log.Error("console login", "tty", dev, "err", err)
			return
		}
		var a login.Account
		if autologin {
			a, _, err = login.Lookup(in.root, "root")
			in.log.Warn("init.debug: root logged in on the console without a password")
		} else {
			a, err = login.Getty{In: f, Out: f, Echo: login.TermEcho(f), Root: in.root, Host: host,
				Delay: 3 * time.Second}.Login()
		}
		if err != nil {
			f.Close()
			in.log.Info("console login", "err", err)
			time.Sleep(time.Second)
			continue
		}
		in.log.Info("console login", "user", a.Name)
		in.runSession(f, dev, a)
		f.Close()
	}
}

// runSession starts a's shell on the tty f, as a's uid and gid, and waits for it.
func (in *initProc) runSession(f *os.File, dev string, a login.Account) {
	shell := a.Shell
	if shell == "" {
		shell = "/" + shellPath
	}
	term := "TERM=linux"
	if strings.Contains(dev, "ttyS") {
		term = "TERM=vt100"
	}
	env := []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=" + a.Home, "USER=" + a.Name,
		"LOGNAME=" + a.Name, "SHELL=" + shell, term}
	// $XDG_RUNTIME_DIR, as logind gives each login: a graphical session started from the login
	// shell (the desktop without autologin) needs it for its sockets.
	if dir, err := login.RuntimeDir(in.root, a); err != nil {
		in.log.Warn("session: no XDG_RUNTIME_DIR", "user", a.Name, "err", err)
	} else {
		env = append(env, "XDG_RUNTIME_DIR="+dir)
	}
	fd := f.Fd()
	attr := &syscall.ProcAttr{
		Dir:   in.path(a.Home),
		Env:   env,
		Files: []uintptr{fd, fd, fd},
		Sys: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0,
			Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}},
	}
	if a.UID == 0 && a.GID == 0 {
		attr.Sys.Credential = nil
	} else if groups, err := login.Groups(in.root, a.Name, uint32(a.GID)); err == nil {
		// the user's groups, as login(1) sets them (initgroups): the desktop's video, input and
		// render, and consciousness for the init's control socket
		attr.Sys.Credential.Groups = groups
	} else {
		in.log.Warn("session: the user's groups", "user", a.Name, "err", err)
	}
	if _, err := os.Stat(attr.Dir); err != nil {
		attr.Dir = in.root
	}
	// a login shell, as login(1) starts it: it reads /etc/profile and the user's profile
	_, done, err := in.reaper.Start(in.path(shell), []string{login.ShellArgv0(in.root, shell)}, attr)
	if err != nil {
		in.log.Error("session", "user", a.Name, "shell", shell, "err", err)
		time.Sleep(time.Second)
		return
	}
	e := <-done
	in.log.Info("session ended", "user", a.Name, "status", describe(e.Status))
}
