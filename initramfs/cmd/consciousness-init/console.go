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

// consoleLogin says whether the serial console asks for a login instead of
// giving a root shell: when asked to (consciousness.console=login, or
// console = login in boot.conf), or when root has a password it can check.
// Without either, the console stays a root shell, as images without accounts
// (before accounts come from the edition) need.
func (in *initProc) consoleLogin() bool {
	switch {
	case in.cmdline.Console != "":
		return in.cmdline.Console == "login"
	case in.conf.Console != "":
		return in.conf.Console == "login"
	}
	_, hash, err := login.Lookup(in.root, "root")
	return err == nil && login.Usable(hash)
}

// getty runs login prompts on the console, and the user's shell after each
// login, forever. With init.debug, root is logged in without a prompt.
func (in *initProc) getty() {
	host, _ := os.Hostname()
	for {
		dev, err := boot.ConsoleDevice(in.root)
		if err != nil {
			in.log.Error("console login", "err", err)
			return
		}
		f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			in.log.Error("console login", "tty", dev, "err", err)
			return
		}
		var a login.Account
		if in.cmdline.Debug {
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
	fd := f.Fd()
	attr := &syscall.ProcAttr{
		Dir: in.path(a.Home),
		Env: []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=" + a.Home, "USER=" + a.Name,
			"LOGNAME=" + a.Name, "SHELL=" + shell, term},
		Files: []uintptr{fd, fd, fd},
		Sys: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0,
			Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}},
	}
	if a.UID == 0 && a.GID == 0 {
		attr.Sys.Credential = nil
	}
	if _, err := os.Stat(attr.Dir); err != nil {
		attr.Dir = in.root
	}
	_, done, err := in.reaper.Start(in.path(shell), []string{shell}, attr)
	if err != nil {
		in.log.Error("session", "user", a.Name, "shell", shell, "err", err)
		time.Sleep(time.Second)
		return
	}
	e := <-done
	in.log.Info("session ended", "user", a.Name, "status", describe(e.Status))
}
