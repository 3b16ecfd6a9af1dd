package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/boot"
	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/conslog"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/guard"
	"github.com/genai-os/genai-build/initramfs/modload"
	"github.com/genai-os/genai-build/initramfs/netconf"
	"github.com/genai-os/genai-build/initramfs/power"
	"github.com/genai-os/genai-build/initramfs/powerkey"
	"github.com/genai-os/genai-build/initramfs/reaper"
	"github.com/genai-os/genai-build/initramfs/svc"
	"golang.org/x/sys/unix"
)

// The file contract between the image builder and the init.
const (
	bootConfPath  = "etc/consciousness/boot.conf"
	modulesPath   = "etc/consciousness/modules"
	modulesDep    = "etc/consciousness/modules.dep"
	modulesAlias  = "etc/consciousness/modules.alias"
	osReleasePath = "etc/os-release"
	cmdlinePath   = "proc/cmdline"
	shellPath     = "bin/gosh"
)

type initProc struct {
	start time.Time
	// startedNs is CLOCK_BOOTTIME when main began (0 if unreadable).
	startedNs int64
	root      string
	log       *slog.Logger
	conf      bootconf.Config
	// confProblem says why boot.conf could not be read ("" when it was): the boot is then failed.
	confProblem string
	cmdline     bootconf.Cmdline
	reaper      *reaper.Reaper
	sigs        chan os.Signal
	mgr         *svc.Manager
	// bootInfo is what `consciousness-manager boot` shows; the control server reads it while boot
	// and the module loader still write it, so it is behind bootMu.
	bootMu   sync.Mutex
	bootInfo ctl.BootInfo
	started  bool // run has been through boot once
	// modulesDone is closed when the module list has been loaded (or failed).
	modulesDone  chan struct{}
	hardwareOnce sync.Once
	// stage2 is set when an early init (stage 1, live.go) made this root and handed over.
	stage2 bool
	// medium is the kernel name of the device stage 1 found the medium on ("" otherwise).
	medium string
	// netResult receives the network's outcome once (nil: configured), for the A/B health checks.
	netResult chan error
}

func (in *initProc) path(p string) string { return filepath.Join(in.root, p) }

// run boots once, then serves signals. It returns only if going down failed.
func (in *initProc) run() {
	if !in.started {
		in.started = true
		in.boot()
	}
	if in.sigs == nil { // boot panicked before signals were set up
		return
	}
	for sig := range in.sigs {
		m := power.ForSignal(sig)
		switch {
		case m.Action != power.None:
			in.log.Info("signal", "signal", sigName(sig), "action", m.Action.String(), "why", m.Why)
			in.shutdown(m.Action, m.Immediate)
			return
		case m.Dump:
			in.log.Info("signal", "signal", sigName(sig), "why", m.Why)
			in.dumpState()
		default:
			in.log.Info("signal ignored", "signal", sigName(sig), "why", m.Why)
		}
	}
}

func (in *initProc) boot() {
	// Before the console is known to be there, collect problems to log later.
	stepErr := boot.Create(boot.Table(in.root))
	in.mark("mounted")
	reopened, consErr := boot.Console(in.path("dev/console"))
	earlyFault() // test builds only (fault_on.go)

	var early []func(*slog.Logger)
	cmdline, cmdErr := in.readCmdline(&early)
	// Stage 1 has no boot.conf: the system it boots has.
	liveStage := in.isLive()
	conf := bootconf.Default()
	if !liveStage {
		conf = in.readConf(&early)
	}
	if cmdline.HasLevel {
		conf.Level = cmdline.Level
	}
	in.conf, in.cmdline = conf, cmdline

	lvl := slog.LevelInfo
	switch {
	case cmdline.Debug || conf.LogLevel == "debug":
		lvl = slog.LevelDebug
	case conf.LogLevel == "warn":
		lvl = slog.LevelWarn
	case conf.LogLevel == "error":
		lvl = slog.LevelError
	}
	in.log = slog.New(conslog.New(os.Stdout, "consciousness-init", lvl))
	log := in.log

	osr := in.readOSRelease()
	if conf.Edition == bootconf.Default().Edition && osr["VARIANT_ID"] != "" {
		in.conf.Edition = osr["VARIANT_ID"]
	}
	log.Info("starting", "os", osr["ID"], "version", osr["VERSION_ID"], "edition", in.conf.Edition,
		"level", in.conf.Level.String())
	if stepErr != nil {
		for _, e := range unjoin(stepErr) {
			log.Warn("setup step failed", "err", e)
		}
	}
	if consErr != nil {
		log.Warn("console", "err", consErr)
	} else if reopened {
		log.Debug("stdio reopened on /dev/console")
	}
	if cmdErr != nil {
		for _, e := range unjoin(cmdErr) {
			log.Warn("kernel command line", "err", e)
		}
	}
	for _, f := range early {
		f(log)
	}

	in.mark("configured")

	in.sigs = make(chan os.Signal, 8)
	signal.Notify(in.sigs, power.Signals()...)
	in.reaper = reaper.New(func(e reaper.Exit) {
		log.Debug("reaped orphan", "pid", e.Pid, "status", describe(e.Status))
	})
	in.goSafe("reaper", in.keepReaping)
	if in.stage2 {
		in.goSafe("verity errors", in.watchVerity)
	}

	// Nothing is reported before the root is known to be whole (verdict.go). In stage 2 the root
	// is the medium's layers, whose sizes stage 1 checked: the root manifest described the early
	// initramfs, which is gone.
	if !in.stage2 && !in.checkSignedCmdline() {
		return
	}
	if !in.stage2 {
		rr := in.checkRoot()
		if !rr.whole() {
			in.failRoot(rr)
			return
		}
		if liveStage {
			in.liveRoot(rr)
			return
		}
	}

	// What services need before they start (a hostname, loopback) is done beside loading the units;
	// what they do not (Ctrl-Alt-Del, the firmware line) waits until they have been started.
	system := make(chan struct{})
	in.goSafe("hostname and loopback", func() {
		defer close(system)
		if err := boot.SetHostname(in.conf.Hostname); err != nil {
			log.Warn("hostname", "err", err)
		}
		if err := boot.LinkUp("lo"); err != nil {
			log.Warn("loopback", "err", err)
		}
	})

	// Modules load in the background, in dependency order, once the boot's services have been
	// started: under emulation each module takes 60-500 ms of both CPUs, which would slow the
	// services' first exec by as much, and most boot services need no hardware to start (sshd's
	// socket listens on every address). The ready line does not wait for them, unless a boot unit
	// waits for network-online.target: then the hardware and the network come first.
	in.modulesDone = make(chan struct{})
	in.netResult = make(chan error, 1)
	if !in.startFirewall() {
		return
	}
	// An A/B system: /data and the boot state before any unit starts (abslot.go).
	var abs *abSystem
	if cmdline.Slot != "" {
		abs = in.abBoot()
	}
	rep := in.startServices(system)
	in.mark("services started")
	if err := power.CtrlAltDelSignals(); err != nil {
		log.Warn("ctrl-alt-del", "err", err)
	}
	if fw, err := boot.ReadFirmware(in.root); err != nil {
		log.Warn("firmware", "err", err)
	} else {
		fmt.Fprintf(os.Stdout, "genai-os: boot firmware=%s secureboot=%s\n", fw.Name(), fw.SecureBoot)
		in.securityLine(fw.SecureBoot)
	}
	in.startHardware()
	in.goSafe("power button", in.powerButton)

	sinceBoot, _ := boot.SinceBoot()
	initMs := in.initMillis(sinceBoot)
	in.bootMu.Lock()
	in.bootInfo.Edition, in.bootInfo.Level = in.conf.Edition, in.conf.Level.String()
	in.bootInfo.InitMs, in.bootInfo.ReadyMs = sinceBoot/1e6-initMs, sinceBoot/1e6
	in.bootInfo.ServicesOK, in.bootInfo.ServicesTotal = rep.OK, rep.Total
	in.bootMu.Unlock()
	// The one line boot tests wait for; keep its format stable (fields may be added at the end).
	// boot_ms: kernel start to now; init_ms: this process's start to now. ready only when the
	// configuration was read and every boot unit reached its target; else failed, with the reason.
	reason, detail := in.bootVerdict(rep)
	if reason == "" {
		fmt.Fprintf(os.Stdout, "genai-os: ready edition=%s level=%s boot_ms=%d services=%d/%d init_ms=%d\n",
			in.conf.Edition, in.conf.Level, sinceBoot/1e6, rep.OK, rep.Total, initMs)
		_ = os.WriteFile(in.path("run/consciousness/ready"), fmt.Appendf(nil, "%d\n", sinceBoot/1e6), 0o644)
	} else {
		in.everyConsole(fmt.Sprintf("genai-os: failed reason=%s edition=%s level=%s boot_ms=%d services=%d/%d init_ms=%d detail=%q",
			reason, in.conf.Edition, in.conf.Level, sinceBoot/1e6, rep.OK, rep.Total, initMs, detail))
	}
	in.abAfterReady(abs, rep.OK, rep.Total, reason, detail)
	in.goSafe("modules report", func() {
		if ms, ok := boot.KernelRanInit(); ok {
			in.bootMu.Lock()
			in.bootInfo.ExecMs = ms
			in.bootMu.Unlock()
		}
		<-in.modulesDone
		in.bootMu.Lock()
		modulesMs := in.bootInfo.ModulesMs
		in.bootMu.Unlock()
		log.Debug("init timing", "init_ms", initMs, "modules_ms", modulesMs)
	})
	// Boot is over: give back what the generous boot-time GC setting (main) let the heap grow to.
	in.goSafe("settle memory", func() {
		<-in.modulesDone
		debug.SetGCPercent(100)
		debug.FreeOSMemory()
	})

	switch cmdline.Test {
	case "":
		if in.consoleLogin() {
			in.gettys()
		} else {
			in.goSafe("console shell", func() { in.shell(true) })
		}
	case bootconf.TestPoweroff:
		in.shutdown(power.Poweroff, false)
	case bootconf.TestShell:
		in.goSafe("test shell", func() {
			in.shell(false)
			in.sigs <- power.ForAction(power.Poweroff) // power off when the shell exits
		})
	default:
		in.testUnit(cmdline.Test)
		in.shutdown(power.Poweroff, false)
	}
}

func (in *initProc) readCmdline(early *[]func(*slog.Logger)) (bootconf.Cmdline, error) {
	b, err := os.ReadFile(in.path(cmdlinePath))
	if err != nil {
		return bootconf.Cmdline{}, err
	}
	c, warns, err := bootconf.ParseCmdline(string(b))
	for _, w := range warns {
		*early = append(*early, func(l *slog.Logger) { l.Warn(w) })
	}
	return c, err
}

func (in *initProc) readConf(early *[]func(*slog.Logger)) bootconf.Config {
	name := "/" + bootConfPath
	f, err := os.Open(in.path(bootConfPath))
	if err != nil {
		in.confProblem = "/" + bootConfPath + " unreadable: " + err.Error()
		*early = append(*early, func(l *slog.Logger) { l.Error("boot.conf missing, using defaults", "err", err) })
		return bootconf.Default()
	}
	defer f.Close()
	c, warns, err := bootconf.Parse(name, f)
	for _, w := range warns {
		*early = append(*early, func(l *slog.Logger) { l.Warn(w.String()) })
	}
	if err != nil {
		// Strict parse, lenient boot: report every problem, boot with what parsed.
		for _, e := range unjoin(err) {
			*early = append(*early, func(l *slog.Logger) { l.Error("boot.conf", "err", e) })
		}
	}
	return c
}

func (in *initProc) readOSRelease() map[string]string {
	b, err := os.ReadFile(in.path(osReleasePath))
	if err != nil {
		return map[string]string{}
	}
	return bootconf.ParseOSRelease(bytes.NewReader(b))
}

// moduleFiles reads the module list and its modules.dep; ok is false when there is no list.
func (in *initProc) moduleFiles() (mods []string, deps map[string][]string, ok bool) {
	log := in.log
	f, err := os.Open(in.path(modulesPath))
	if errors.Is(err, os.ErrNotExist) {
		log.Debug("no module list")
		return nil, nil, false
	}
	if err != nil {
		log.Warn("modules", "err", err)
		return nil, nil, false
	}
	mods, err = modload.ReadList("/"+modulesPath, f)
	f.Close()
	if err != nil {
		log.Warn("modules", "err", err)
	}
	if df, err := os.Open(in.path(modulesDep)); err == nil {
		deps, err = modload.ParseDep("/"+modulesDep, df)
		df.Close()
		if err != nil {
			log.Warn("modules.dep", "err", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn("modules.dep", "err", err)
	}
	return mods, deps, true
}

// loadModules loads what the builder listed and returns the time it took in ms. extra are
// modaliases that no device announces but that the caller needs (stage 1's file systems);
// ctx ends the loading early (modules being loaded finish, the rest are left).
func (in *initProc) loadModules(ctx context.Context, extra ...string) int64 {
	log := in.log
	mods, deps, ok := in.moduleFiles()
	if !ok {
		return 0
	}
	t0 := time.Now()
	var res []modload.Result
	var skipped []string
	aliases, err := in.readAliases()
	switch {
	case err != nil:
		// No alias file (an older image) or an unreadable one: load the whole list, as before coldplug.
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("modules.alias", "err", err)
		}
		res = modload.Load(ctx, mods, deps, 2*runtime.NumCPU(), modload.Finit)
	default:
		sysDevices := in.path("sys/devices")
		cp := modload.Coldplug{Mods: mods, Deps: deps, Aliases: aliases, Load: modload.Finit,
			Parallel: 2 * runtime.NumCPU(), Scan: func() ([]string, error) {
				as, err := modload.Modaliases(sysDevices)
				return append(as, extra...), err
			},
			// USB enumeration and SCSI scans finish after their host driver's finit_module returns.
			Settle: 1500 * time.Millisecond, Poll: 250 * time.Millisecond}
		var scanErr error
		res, skipped, scanErr = cp.Run(ctx)
		if scanErr != nil {
			log.Warn("coldplug scan", "err", scanErr)
		}
	}
	failed, left := 0, 0
	for _, r := range res {
		if errors.Is(r.Err, context.Canceled) { // stage 1 found its medium: stage 2 loads the rest
			left++
			continue
		}
		if r.Err != nil {
			failed++
			log.Warn("module failed", "err", r.Err)
			if p := (*guard.Panic)(nil); errors.As(r.Err, &p) {
				guard.Log(log, p)
			}
			continue
		}
		log.Debug("module loaded", "module", filepath.Base(r.Path),
			"start_ms", r.Start.Milliseconds(), "ms", r.Duration.Milliseconds())
	}
	for _, m := range skipped {
		log.Debug("module skipped: no matching device", "module", modload.ModuleName(m))
	}
	ms := time.Since(t0).Milliseconds()
	log.Info("modules loaded", "ok", len(res)-failed-left, "failed", failed, "skipped", len(skipped)+left, "ms", ms)
	return ms
}

// readAliases reads modules.alias; a missing file is os.ErrNotExist.
func (in *initProc) readAliases() ([]modload.Alias, error) {
	f, err := os.Open(in.path(modulesAlias))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	as, err := modload.ParseAlias("/"+modulesAlias, f)
	if err != nil && len(as) > 0 { // strict parse, lenient boot: use the lines that parsed
		in.log.Warn("modules.alias", "err", err)
		return as, nil
	}
	return as, err
}

// startHardware starts, once, the loading of modules and then the network (which waits for its
// NIC's driver and the DHCP server).
func (in *initProc) startHardware() {
	in.hardwareOnce.Do(func() {
		in.goSafe("modules", func() {
			defer close(in.modulesDone)
			ms := in.loadModules(context.Background())
			in.bootMu.Lock()
			in.bootInfo.ModulesMs = ms
			in.bootMu.Unlock()
			if in.mgr != nil {
				// reached even when some module failed: loadModules has logged each failure, and
				// a unit that needs a device finds out itself
				_ = in.mgr.Reach(modulesLoaded, true)
			}
		})
		in.goSafe("network", in.network)
	})
}

// networkOnline is the target units order themselves after to have a configured network.
const networkOnline = "network-online.target"

// modulesLoaded is the target units order themselves after to find the module list's devices
// (udevd's coldplug, a graphical session): reached when the modules are loaded. A boot unit that
// wants it makes the modules load before the boot's units, as network-online.target does.
const modulesLoaded = "modules-loaded.target"

// network configures the network as boot.conf says, prints one console line when it is up and
// reports network-online.target reached (or not).
func (in *initProc) network() {
	r, renew, err := netconf.Up(context.Background(), in.conf.Network, netconf.Options{Root: in.root, Log: in.log})
	if in.netResult != nil {
		select {
		case in.netResult <- err:
		default:
		}
	}
	if in.mgr != nil {
		_ = in.mgr.Reach(networkOnline, err == nil)
	}
	if errors.Is(err, netconf.ErrOff) {
		in.log.Info("network off")
		return
	}
	if err != nil {
		in.log.Warn("network", "err", err)
		return
	}
	// The line boot tests wait for; keep its format stable (fields may be added at the end).
	fmt.Fprintf(os.Stdout, "genai-os: network %s\n", r)
	if renew != nil {
		renew()
	}
}

// testUnit runs consciousness.test=<unit>: start it, print one result line.
func (in *initProc) testUnit(name string) {
	if in.mgr == nil {
		fmt.Fprintf(os.Stdout, "genai-os: test unit=%s result=no-manager\n", name)
		return
	}
	if !strings.Contains(name, ".") {
		name += ".service"
	}
	state, result := "missing", ""
	if _, err := in.mgr.Start(name); err == nil {
		if st, err := in.mgr.Status(name); err == nil {
			state, result = string(st[0].State), st[0].Result
		}
	}
	fmt.Fprintf(os.Stdout, "genai-os: test unit=%s state=%s result=%q\n", name, state, result)
}

// mark notes the end of a boot phase on the kernel's clock, for `consciousness-manager boot`.
func (in *initProc) mark(phase string) {
	ns, err := boot.SinceBoot()
	if err != nil {
		return
	}
	in.bootMu.Lock()
	in.bootInfo.Phases = append(in.bootInfo.Phases, ctl.Phase{Name: phase, Ms: ns / 1e6})
	in.bootMu.Unlock()
}

// initMillis is the time since main began, in ms, on the kernel's boot clock when it was readable
// then (it counts what the guest spent, also under emulation), else on the process clock.
func (in *initProc) initMillis(sinceBootNs int64) int64 {
	if in.startedNs > 0 && sinceBootNs >= in.startedNs {
		return (sinceBootNs - in.startedNs) / 1e6
	}
	return time.Since(in.start).Milliseconds()
}

// shell runs the console shell, again and again if respawn is set, with a
// backoff when it dies quickly. It runs on the tty behind /dev/console as its
// controlling terminal, so that Ctrl-C reaches its jobs.
func (in *initProc) shell(respawn bool) {
	sh := in.path(shellPath)
	delay := time.Second
	for {
		began := time.Now()
		pid, done, err := in.startOnConsole(sh)
		if err != nil {
			in.log.Error("console shell", "path", sh, "err", err)
			return
		}
		in.log.Debug("console shell started", "pid", pid)
		e := <-done
		in.log.Info("console shell exited", "status", describe(e.Status))
		if !respawn {
			return
		}
		if time.Since(began) > 10*time.Second {
			delay = time.Second
		} else if delay *= 2; delay > 30*time.Second {
			delay = 30 * time.Second
		}
		time.Sleep(delay)
	}
}

func (in *initProc) startOnConsole(path string) (int, <-chan reaper.Exit, error) {
	attr := &syscall.ProcAttr{
		Dir:   in.path("root"),
		Env:   []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "USER=root", "LOGNAME=root", "TERM=linux"},
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	if dev, err := boot.ConsoleDevice(in.root); err == nil {
		if fd, err := unix.Open(dev, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err == nil {
			defer unix.Close(fd)
			attr.Files = []uintptr{uintptr(fd), uintptr(fd), uintptr(fd)}
			attr.Sys.Setctty, attr.Sys.Ctty = true, 0
			if strings.Contains(dev, "ttyS") {
				attr.Env[len(attr.Env)-1] = "TERM=vt100"
			}
		}
	}
	pid, done, err := in.reaper.Start(path, []string{path}, attr)
	if err != nil && attr.Sys.Setctty { // no usable tty: a shell without job control
		attr.Files, attr.Sys.Setctty = []uintptr{0, 1, 2}, false
		pid, done, err = in.reaper.Start(path, []string{path}, attr)
	}
	return pid, done, err
}

// shutdown ends the system: the services stop in reverse dependency order (one console line per
// unit), what is left gets SIGTERM then SIGKILL, the services' logs are written out, the file
// systems are unmounted or made read-only and synced, then reboot(2). Immediate skips the
// services. It returns only if reboot(2) failed.
func (in *initProc) shutdown(a power.Action, immediate bool) {
	log := in.log
	t0 := time.Now()
	log.Info("going down", "action", a.String(), "immediate", immediate)
	reap := func() {}
	if in.reaper != nil {
		reap = in.reaper.Reap
	}
	if in.mgr != nil && !immediate {
		in.mgr.StopAll()
		log.Info("services stopped", "ms", time.Since(t0).Milliseconds())
	}
	if !immediate {
		power.KillAll(2*time.Second, reap)
	}
	if in.mgr != nil {
		if err := in.mgr.FlushLogs(time.Second); err != nil {
			log.Warn("service logs", "err", err)
		} else {
			log.Info("service logs flushed")
		}
	}
	if err := power.UnmountAll(); err != nil {
		for _, e := range unjoin(err) {
			log.Debug("unmount", "err", e)
		}
	}
	unix.Sync()
	log.Info("file systems synced, "+map[power.Action]string{power.Poweroff: "powering off", power.Reboot: "rebooting", power.Halt: "halting"}[a],
		"ms", time.Since(t0).Milliseconds())
	err := power.Final(a)
	log.Error("reboot(2) failed", "action", a.String(), "err", err)
}

// dumpState logs the state of every unit (SIGUSR2, as systemd dumps its state).
func (in *initProc) dumpState() {
	if in.mgr == nil {
		in.log.Info("no service manager")
		return
	}
	st, err := in.mgr.Status()
	if err != nil {
		in.log.Warn("state", "err", err)
		return
	}
	for _, s := range st {
		in.log.Info("unit", "unit", s.Name, "state", string(s.State), "pid", s.PID, "result", s.Result, "restarts", s.Restarts)
	}
}

// powerButton watches the power key of every input device that has one, once the modules (the
// ACPI button driver and evdev) are loaded; a press powers off, as systemd-logind's default
// HandlePowerKey=poweroff does.
func (in *initProc) powerButton() {
	<-in.modulesDone
	devs, err := powerkey.Devices(in.path("dev/input"))
	if err != nil {
		in.log.Debug("input devices", "err", err)
	}
	if len(devs) == 0 {
		in.log.Info("no power button")
		return
	}
	for _, d := range devs {
		in.goSafe("power button "+d, func() {
			err := powerkey.Watch(d, func() {
				in.log.Info("power button pressed", "device", d)
				select {
				case in.sigs <- power.ForAction(power.Poweroff):
				default: // already going down
				}
			})
			in.log.Warn("power button", "device", d, "err", err)
		})
	}
	in.log.Info("power button watched", "devices", strings.Join(devs, " "))
}

// idle keeps PID 1 alive after run gave up: reap, and log signals.
func (in *initProc) idle() {
	if in.reaper == nil {
		in.reaper = reaper.New(nil)
		in.goSafe("reaper", in.keepReaping)
	}
	time.Sleep(time.Second)
}

// keepReaping runs the reaper, and runs it again after a panic (logged with its stack): without
// it no exit would reach its service.
func (in *initProc) keepReaping() {
	for {
		err := guard.Call("reaper", in.reaper.Run)
		var p *guard.Panic
		if !errors.As(err, &p) {
			return
		}
		guard.Log(in.log, p)
		time.Sleep(time.Second)
	}
}

// goSafe runs f in a goroutine that logs a panic with its stack instead of killing PID 1.
func (in *initProc) goSafe(name string, f func()) { guard.Go(in.log, name, f) }

func describe(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}

// unjoin splits an errors.Join result so that each problem gets its own line.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// sigName names a signal as kill -l does, real-time ones as SIGRTMIN+n (systemd's numbering).
func sigName(s os.Signal) string {
	if n, ok := s.(syscall.Signal); ok {
		if name := unix.SignalName(n); name != "" {
			return name
		}
		if n >= power.RTMin(0) {
			return fmt.Sprintf("SIGRTMIN+%d", n-power.RTMin(0))
		}
	}
	return s.String()
}
