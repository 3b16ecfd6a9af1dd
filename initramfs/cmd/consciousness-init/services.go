package main

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/genai-os/genai-build/initramfs/boot"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/power"
	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/genai-os/genai-build/initramfs/unit"
	"golang.org/x/sys/unix"
)

const (
	servicesDir = "etc/consciousness/services"
	runDir      = "run/consciousness"
	logDir      = "var/log/consciousness"
	cgroupDir   = "sys/fs/cgroup/services"
	ctlGroup    = "consciousness"
)

func sinceBoot() time.Duration {
	ns, _ := boot.SinceBoot()
	return time.Duration(ns)
}

// startServices loads the units, waits for system (what services may need of
// the system), starts the boot units and the control socket, and returns the
// boot report. A broken unit never stops the others.
func (in *initProc) startServices(system <-chan struct{}) svc.Report {
	log := in.log
	units, diags, err := unit.LoadDir(in.path(servicesDir))
	if err != nil && !os.IsNotExist(err) {
		log.Warn("services", "err", err)
	}
	for _, d := range diags {
		if d.Fatal {
			log.Error("unit rejected: " + d.String())
		} else {
			log.Warn("unit: " + d.String())
		}
	}
	units = append(units, unit.NewTarget(networkOnline, "The network is configured (a DHCP lease or the static address)"),
		unit.NewTarget(modulesLoaded, "The module list's drivers are loaded (coldplugged)"))
	// One cgroup per service only on a real cgroup2 mount (statfs(2) magic,
	// linux/magic.h): elsewhere the folder would be a plain directory. The
	// folders are made when a service's first process starts.
	cg := in.path(cgroupDir)
	var sfs unix.Statfs_t
	if err := unix.Statfs(in.path("sys/fs/cgroup"), &sfs); err != nil || sfs.Type != unix.CGROUP2_SUPER_MAGIC {
		log.Debug("no cgroup2, services in process groups only")
		cg = ""
	}
	var aiEnv []string
	if a := in.conf.AI; a.Endpoint != "" {
		aiEnv = append(aiEnv, "GENAI_ENDPOINT="+a.Endpoint, "OPENAI_BASE_URL="+a.Endpoint)
		if a.Model != "" {
			aiEnv = append(aiEnv, "GENAI_MODEL="+a.Model)
		}
	}
	self, err := os.Executable() // this binary: its socket-exec applet starts socket-activated services
	if err != nil {
		log.Warn("services: own executable unknown, Accept=no sockets will fail", "err", err)
	}
	m, msgs, err := svc.New(svc.Config{
		SocketExec: self, SandboxExec: self,
		Units: units, Level: in.conf.Level, Spawner: in.reaper, Clock: sinceBoot,
		Root: in.root, RunDir: in.path(runDir), LogDir: in.path(logDir), CgroupDir: cg,
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "LANG=C.UTF-8"},
		AIEnv: aiEnv,
		Log:   log.With("component", "svc"),
		Fault: faultHook(log),
	})
	for _, msg := range msgs {
		log.Warn(msg)
	}
	if err != nil {
		log.Error("service manager", "err", err)
		return svc.Report{}
	}
	in.mgr = m // before startHardware: the network reports network-online.target to it
	in.auditUnits(m)
	for _, u := range units {
		if slices.ContainsFunc([]string{networkOnline, modulesLoaded}, func(t string) bool {
			return slices.Contains(u.Wants, t) || slices.Contains(u.Requires, t)
		}) {
			// A unit waits for the network or the drivers (udevd, a graphical session): if it
			// starts at boot, the boot waits for the modules (and the network), so they must not
			// wait for the boot.
			in.startHardware()
			break
		}
	}
	in.mark("units loaded")
	<-system
	t0 := time.Now()
	rep := m.StartBoot()
	// The control socket opens once the boot units have started (a boot unit cannot drive the
	// manager): under emulation its first socket would cost the boot some 10-40 ms.
	in.goSafe("control socket", func() { in.serveControl(m) })
	for _, f := range rep.Failed {
		st, _ := m.Status(f)
		result := ""
		if len(st) == 1 {
			result = st[0].Result
		}
		log.Warn("service failed at boot", "service", f, "result", result)
	}
	if len(rep.Skipped) > 0 {
		log.Info("services above the level not started", "level", in.conf.Level.String(), "units", fmt.Sprint(rep.Skipped))
	}
	log.Debug("services started", "ok", rep.OK, "total", rep.Total, "ms", time.Since(t0).Milliseconds())
	return rep
}

func (in *initProc) serveControl(m *svc.Manager) {
	gid := -1
	if g, err := svc.LookupGroup(in.root, ctlGroup); err == nil {
		gid = int(g)
	}
	l, err := ctl.Listen(in.path(runDir+"/control.sock"), gid)
	if err != nil {
		in.log.Error("control socket", "err", err)
		return
	}
	srv := &ctl.Server{
		M: m, AllowGID: gid, Log: in.log,
		Boot: func() ctl.BootInfo {
			in.bootMu.Lock()
			defer in.bootMu.Unlock()
			return in.bootInfo
		},
		Power: func(verb string) error {
			sig := power.ForAction(power.Reboot)
			if verb == "poweroff" {
				sig = power.ForAction(power.Poweroff)
			}
			select {
			case in.sigs <- sig:
				return nil
			default:
				return fmt.Errorf("%s: init busy", verb)
			}
		},
	}
	if err := srv.Serve(l); err != nil {
		in.log.Error("control socket", "err", err)
	}
}
