package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/genai-os/genai-build/initramfs/abboot"
	"github.com/genai-os/genai-build/initramfs/datapart"
	"github.com/genai-os/genai-build/initramfs/guard"
	"github.com/genai-os/genai-build/initramfs/live"
	"github.com/genai-os/genai-build/initramfs/power"
	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/genai-os/genai-build/initramfs/watchdog"
	"github.com/genai-os/genai-build/internal/ab"
	"golang.org/x/sys/unix"
)

// An A/B disk system (initramfs/README.md, "A/B systems"): GRUB puts genai.slot=A|B on the
// command line. Stage 1 checks that the medium it found is that slot's partition; stage 2 grows,
// formats and mounts the data partition, reads the boot state, and commits or rolls back a trial.
const (
	// mediumEnv hands the medium's kernel name (vda2) from stage 1 to stage 2.
	mediumEnv   = "CONSCIOUSNESS_MEDIUM"
	dataDir     = "data"
	healthDir   = "etc/genai/health.d"
	watchdogDev = "dev/watchdog"
	// The trial's watchdog: its timer, how often it is fed, and for how long at most (a trial
	// boot that has not committed by then is taken as hung: the timer runs out and resets).
	watchdogTimeout  = 60 * time.Second
	watchdogInterval = 10 * time.Second
	trialDeadline    = 10 * time.Minute
	// The wait for the network, and for mke2fs.
	networkTimeout = 2 * time.Minute
	mkfsTimeout    = 10 * time.Minute
)

// healthTimeout is each health.d program's time (a variable for the tests).
var healthTimeout = 60 * time.Second

// stableFor is how long the boot units must stay up after the ready line for the health checks
// (a variable for the tests).
var stableFor = 20 * time.Second

// unitsDownAfter waits d, then lists the boot units that are not running (or, for a oneshot,
// exited successfully): "name state result", comma-separated; "" when all are up.
func (in *initProc) unitsDownAfter(d time.Duration) string {
	if in.mgr == nil {
		return ""
	}
	time.Sleep(d)
	sts, err := in.mgr.Status()
	if err != nil {
		return err.Error()
	}
	var down []string
	for _, st := range sts {
		if !st.Boot || st.State == svc.Running || st.State == svc.Exited {
			continue
		}
		down = append(down, strings.TrimSpace(fmt.Sprintf("%s %s %s", st.Name, st.State, st.Result)))
	}
	return strings.Join(down, ", ")
}

// Modules by name: ext4 for /data with crc32c_generic, which ext4 asks the crypto API for at
// mount ("Cannot load crc32c driver" without it; a softdep, not in modinfo's depends=); the
// watchdog drivers QEMU and PCs have (i6300esb: QEMU's -device i6300esb; iTCO_wdt: the ICH9 TCO
// timer of q35 and Intel chipsets).
var (
	dataModules     = []string{"crc32c_generic", "ext4"}
	watchdogModules = []string{"i6300esb", "iTCO_wdt"}
)

// slotProbe wraps stage 1's probe on an A/B system: the other slot's partition is never the
// medium (it may hold the same build, after an update to the same version).
func (in *initProc) slotProbe(p live.ProbeFunc) live.ProbeFunc {
	if in.cmdline.Slot == "" {
		return p
	}
	other := ab.Slot(in.cmdline.Slot).Other()
	sys := in.path("sys/class/block")
	return func(ctx context.Context, d live.Device) (live.Medium, bool, error) {
		if n, _ := ab.PartName(sys, d.Name); n == other.PartName() {
			return live.Medium{}, true, fmt.Errorf("the other slot's partition (%s)", n)
		}
		return p(ctx, d)
	}
}

// checkSlot is stage 1's check that the medium is the booted slot's partition; it reports a
// failed boot (reason=slot) and returns false when it is not.
func (in *initProc) checkSlot(rr rootReport, c live.Conf, dev string) bool {
	if in.cmdline.Slot == "" {
		return true
	}
	want := ab.Slot(in.cmdline.Slot).PartName()
	got, err := ab.PartName(in.path("sys/class/block"), dev)
	if err == nil && got == want {
		return true
	}
	why := fmt.Sprintf("genai.slot=%s, but the medium found is %s, GPT name %q, not %s", in.cmdline.Slot, dev, got, want)
	if err != nil {
		why += ": " + err.Error()
	}
	in.everyConsole(fmt.Sprintf("genai-os: failed reason=slot edition=%s build=%s dev=%s detail=%q",
		editionOf(rr), live.Short(c.BuildID), dev, why))
	in.afterFailure()
	return false
}

// abSystem is what stage 2 knows of the A/B boot between the start and the health checks.
type abSystem struct {
	booted  ab.Slot
	version string
	disk    ab.Disk
	store   *ab.Store
	env     ab.Env
	envOK   bool
	state   ab.State
	dataOK  bool // /data mounted: the record can be read and written
	trial   bool
	dog     *watchdog.Dog
}

// abBoot runs before the units start: /data, the boot state, the slot line, the watchdog of a
// trial. A panic here is logged and the boot goes on without it (nil).
func (in *initProc) abBoot() *abSystem {
	var s *abSystem
	if err := guard.Call("A/B boot", func() { s = in.abPrepare() }); err != nil {
		var p *guard.Panic
		if errors.As(err, &p) {
			guard.Log(in.log, p)
		}
		return nil
	}
	return s
}

func (in *initProc) abPrepare() *abSystem {
	log := in.log
	s := &abSystem{booted: ab.Slot(in.cmdline.Slot), version: in.readOSRelease()["VERSION_ID"]}
	sys, dev := in.path("sys/class/block"), in.path("dev")
	var err error
	if in.medium != "" {
		s.disk, err = ab.FindDisk(sys, dev, in.medium)
	} else {
		s.disk, err = ab.FindDiskBySlot(sys, dev, s.booted)
	}
	if err != nil {
		log.Error("A/B disk", "err", err)
		fmt.Fprintf(os.Stdout, "genai-os: slot booted=%s active=unknown trial=unknown left=0 version=%s\n", s.booted, s.version)
		return s
	}
	s.dataOK = in.mountData(s.disk)

	if st, err := ab.OpenStore(s.disk.ESP); err != nil {
		log.Error("boot state", "esp", s.disk.ESP, "err", err)
	} else {
		s.store = st
		env, repaired, err := st.Read()
		switch {
		case err != nil:
			log.Error("boot state", "esp", s.disk.ESP, "err", err)
		default:
			s.env, s.envOK = env, true
			if repaired {
				log.Warn("boot state: a copy was bad and has been rewritten", "esp", s.disk.ESP)
			}
		}
	}
	if s.dataOK {
		if s.state, err = ab.LoadState(in.path(dataDir)); err != nil {
			log.Error("update record", "err", err)
		}
	}
	if !s.envOK {
		fmt.Fprintf(os.Stdout, "genai-os: slot booted=%s active=unknown trial=unknown left=0 version=%s\n", s.booted, s.version)
		return s
	}
	out := abboot.Decide(abboot.Input{Env: s.env, Booted: s.booted, Version: s.version, State: s.state, Tries: in.conf.UpdateTries, Now: time.Now()})
	in.apply(s, out)
	if out.Trial {
		s.trial = true
		s.dog = in.armWatchdog()
	}
	return s
}

// mountData grows and formats the data partition when that was not done yet, prints the data
// line, and mounts it on /data.
func (in *initProc) mountData(d ab.Disk) bool {
	log := in.log
	in.loadRequired(dataModules)
	mkfs := findProgram(in.root, "mke2fs")
	r, err := datapart.Prepare(datapart.Options{Disk: filepath.Join(in.path("dev"), d.Name), Part: d.Data, Name: ab.DataName,
		Mkfs: func(_, _ int64) error {
			if mkfs == "" {
				return errors.New("no mke2fs in the root (e2fsprogs)")
			}
			// lazy_itable_init: the kernel zeroes the inode tables after the mount, in the background.
			out, err := in.runProgram(mkfs, []string{"mke2fs", "-F", "-q", "-t", "ext4", "-L", ab.DataName,
				"-E", "lazy_itable_init=1", d.Data}, mkfsTimeout)
			if err != nil {
				return fmt.Errorf("%v: %s", err, lastLine(out))
			}
			return nil
		}})
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(os.Stdout, "genai-os: data dev=%s size=%d grown=%s formatted=%s\n",
		filepath.Base(d.Data), r.Size, yes[r.Grown], yes[r.Formatted])
	if err != nil {
		log.Error("data partition not mounted", "err", err)
		return false
	}
	dir := in.path(dataDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Error("data partition", "err", err)
		return false
	}
	if err := unix.Mount(d.Data, dir, "ext4", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOATIME, ""); err != nil {
		log.Error("data partition not mounted", "dev", d.Data, "err", err)
		return false
	}
	log.Info("data partition mounted", "dev", d.Data, "dir", "/"+dataDir)
	return true
}

// apply carries out a decision: the boot state first, then the record, the lines, the reboot.
func (in *initProc) apply(s *abSystem, out abboot.Output) {
	log := in.log
	if out.Env != nil {
		if s.store == nil {
			log.Error("boot state not written: the ESP is not open")
		} else if err := s.store.Write(*out.Env); err != nil {
			log.Error("boot state not written", "err", err)
		} else {
			s.env = *out.Env
		}
	}
	if out.State != nil {
		if !s.dataOK {
			log.Error("update record not written: /data is not mounted")
		} else if err := out.State.Save(in.path(dataDir)); err != nil {
			log.Error("update record not written", "err", err)
		} else {
			s.state = *out.State
		}
	}
	for _, l := range out.Log {
		log.Warn(l)
	}
	for _, l := range out.Lines {
		fmt.Fprintln(os.Stdout, l)
	}
	if out.Reboot {
		select {
		case in.sigs <- power.ForAction(power.Reboot):
		default:
			log.Error("reboot after the roll back: the init is busy")
		}
	}
}

// armWatchdog loads the watchdog drivers the module list has and arms /dev/watchdog, fed until
// the trial commits (or its deadline passes).
func (in *initProc) armWatchdog() *watchdog.Dog {
	in.loadRequired(watchdogModules)
	path := in.path(watchdogDev)
	var err error
	for range 20 { // devtmpfs makes the node when the driver has bound its device
		if _, err = os.Stat(path); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stdout, "genai-os: watchdog none: no /dev/watchdog, a hung trial boot is not ended by it")
		return nil
	}
	d, err := watchdog.Open(path, watchdogTimeout)
	if err != nil {
		fmt.Fprintf(os.Stdout, "genai-os: watchdog none: %v\n", err)
		return nil
	}
	fmt.Fprintf(os.Stdout, "genai-os: watchdog armed dev=/%s timeout_s=%d\n", watchdogDev, int(d.Timeout.Seconds()))
	deadline := time.Now().Add(trialDeadline)
	in.goSafe("watchdog", func() { d.Feed(watchdogInterval, deadline) })
	return d
}

// abAfterReady runs the health checks once the verdict line is out, and on a trial boot commits
// or rolls back: /data mounted, then healthChecks. reason and detail are bootVerdict's ("" for
// ready).
func (in *initProc) abAfterReady(s *abSystem, ok, total int, reason, detail string) {
	if s == nil || !s.envOK {
		return
	}
	in.goSafe("A/B health checks", func() {
		c := abboot.Checks{Detail: "the data partition is not mounted on /" + dataDir}
		if s.dataOK {
			c = in.healthChecks(ok, total, reason, detail)
		}
		in.log.Info("health checks", "ok", c.OK, "detail", c.Detail)
		out := abboot.Decide(abboot.Input{Env: s.env, Booted: s.booted, Version: s.version, State: s.state, Tries: in.conf.UpdateTries, Now: time.Now(), Checks: &c})
		if s.dog != nil && s.trial {
			if out.Reboot {
				s.dog.Abandon() // armed until the reboot: a shutdown that hangs is ended too
			} else if out.Env != nil {
				defer func() {
					if err := s.dog.Disarm(); err != nil {
						in.log.Warn("watchdog", "err", err)
					}
				}()
			}
		}
		in.apply(s, out)
	})
}

// healthChecks: every boot unit up, the network up when the edition configures one, the update
// tool able to read the boot state (genai-update status, when the system has it), and each
// program in /etc/genai/health.d exits 0 within its time.
func (in *initProc) healthChecks(ok, total int, reason, detail string) abboot.Checks {
	if reason != "" || ok != total {
		return abboot.Checks{Detail: fmt.Sprintf("boot units %d/%d up: %s %s", ok, total, reason, detail)}
	}
	// Up at the ready line is not enough: a unit that fails a moment later (an application that
	// exits on a bad configuration) must fail the trial. The units stay up for stableFor first.
	if down := in.unitsDownAfter(stableFor); down != "" {
		return abboot.Checks{Detail: "boot units not up after " + stableFor.String() + ": " + down}
	}
	if in.conf.Network.Mode != "" && in.conf.Network.Mode != "off" {
		select {
		case err := <-in.netResult:
			if err != nil {
				return abboot.Checks{Detail: "network: " + err.Error()}
			}
		case <-time.After(networkTimeout):
			return abboot.Checks{Detail: fmt.Sprintf("network: not up after %v", networkTimeout)}
		}
	}
	// The update path itself: the new system's genai-update finds its disk and reads the boot
	// state, or this system could not be updated again (gokrazy#130's lesson).
	if p := findProgram(in.path(""), "genai-update"); p != "" {
		if out, err := in.runProgram(p, []string{"genai-update", "status", "--json"}, healthTimeout); err != nil {
			d := "genai-update status: " + err.Error()
			if l := lastLine(out); l != "" {
				d += ": " + l
			}
			return abboot.Checks{Detail: d}
		}
	}
	ents, err := os.ReadDir(in.path(healthDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return abboot.Checks{Detail: fmt.Sprintf("/%s: %v", healthDir, err)}
	}
	for _, e := range ents {
		p := filepath.Join(in.path(healthDir), e.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out, err := in.runProgram(p, []string{p}, healthTimeout)
		if err != nil {
			d := fmt.Sprintf("health.d/%s: %v", e.Name(), err)
			if l := lastLine(out); l != "" {
				d += ": " + l
			}
			return abboot.Checks{Detail: d}
		}
	}
	return abboot.Checks{OK: true}
}

// runProgram runs path through the reaper (PID 1's only wait4), with its output collected, and
// kills it (its process group) after timeout.
func (in *initProc) runProgram(path string, argv []string, timeout time.Duration) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return "", err
	}
	defer null.Close()
	attr := &syscall.ProcAttr{Dir: "/", Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"},
		Files: []uintptr{null.Fd(), w.Fd(), w.Fd()}, Sys: &syscall.SysProcAttr{Setpgid: true}}
	pid, done, err := in.reaper.Start(path, argv, attr)
	w.Close()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	read := make(chan struct{})
	go func() { // ends at EOF: when the program and what it started have closed the pipe
		defer close(read)
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			if buf.Len() < 64<<10 {
				buf.Write(b[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	// The buffer is read only after the reader has ended: at EOF, or at the read deadline set
	// once the program is gone (a daemon it started may keep the pipe open).
	collected := func() string {
		_ = r.SetReadDeadline(time.Now().Add(time.Second))
		<-read
		return buf.String()
	}
	var e = struct{ status syscall.WaitStatus }{}
	select {
	case x := <-done:
		e.status = x.Status
	case <-time.After(timeout):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
		return collected(), fmt.Errorf("killed after %v", timeout)
	}
	out := collected()
	if !e.status.Exited() || e.status.ExitStatus() != 0 {
		return out, errors.New(describe(e.status))
	}
	return out, nil
}

func lastLine(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(ls[len(ls)-1])
}

// findProgram is the first of the usual places that holds name (Debian's e2fsprogs puts mke2fs
// in /usr/sbin; /sbin links there), as a path in the running root.
func findProgram(root, name string) string {
	for _, d := range []string{"usr/sbin", "sbin", "usr/bin", "bin"} {
		p := filepath.Join(root, d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
