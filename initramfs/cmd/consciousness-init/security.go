package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/genai-os/genai-build/initramfs/auditmsg"
	"github.com/genai-os/genai-build/initramfs/boot"
	"github.com/genai-os/genai-build/initramfs/firewall"
	"github.com/genai-os/genai-build/initramfs/modload"
	"github.com/genai-os/genai-build/initramfs/svc"
	"github.com/google/nftables"
)

const firewallConfPath = "etc/consciousness/firewall.conf"

// startFirewall applies /etc/consciousness/firewall.conf before any unit starts: it loads the
// ruleset's modules (the kernel has no modprobe to ask), replaces the inet genai table and turns
// forwarding off, then prints `genai-os: firewall on input=drop allow=...`. No file or enabled = no:
// `genai-os: firewall off`. It returns false when the firewall should be on and is not: the boot
// then stops (failed reason=firewall), so that a system meant to be closed never comes up open.
func (in *initProc) startFirewall() bool {
	t0 := time.Now()
	c, err := in.readFirewall()
	if err == nil && !c.Enabled {
		fmt.Fprintln(os.Stdout, "genai-os: firewall off")
		return true
	}
	if err == nil {
		err = in.firewallModules()
	}
	if err == nil {
		err = applyFirewall(c, in.path("proc/sys"))
	}
	if err != nil {
		in.everyConsole(fmt.Sprintf("genai-os: failed reason=firewall edition=%s detail=%q", in.conf.Edition, err.Error()))
		in.everyConsole("genai-os: the firewall could not be set up, so no service was started: " +
			"the system does not come up without the protection its edition asks for.")
		in.log.Error("firewall failed, no service started", "err", err)
		in.afterFailure()
		return false
	}
	in.log.Debug("firewall applied", "ms", time.Since(t0).Milliseconds())
	fmt.Fprintf(os.Stdout, "genai-os: firewall on %s\n", c.Summary())
	return true
}

// readFirewall reads firewall.conf; a missing file is a firewall that is off.
func (in *initProc) readFirewall() (firewall.Config, error) {
	f, err := os.Open(in.path(firewallConfPath))
	if errors.Is(err, os.ErrNotExist) {
		return firewall.Config{}, nil
	}
	if err != nil {
		return firewall.Config{}, err
	}
	defer f.Close()
	return firewall.Parse("/"+firewallConfPath, f)
}

func applyFirewall(c firewall.Config, procSys string) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if err := firewall.Apply(conn, c); err != nil {
		return err
	}
	return firewall.ForwardingOff(procSys)
}

// firewallModules loads the ruleset's modules and their dependencies from the module list, now
// (the rest of the list loads in the background after the units have started): each of
// firewall.Modules in turn, with its dependencies, so that a soft dependency listed first is in
// the kernel before the module that needs it.
func (in *initProc) firewallModules() error {
	mods, deps, ok := in.moduleFiles()
	if !ok {
		return nil // no list: a kernel with nf_tables built in (applying says if not)
	}
	done := map[string]bool{}
	for _, name := range firewall.Modules {
		want := map[string]bool{}
		var add func(m string)
		add = func(m string) {
			if !want[m] && !done[m] {
				want[m] = true
				for _, d := range deps[m] {
					add(d)
				}
			}
		}
		i := slices.IndexFunc(mods, func(m string) bool { return modload.ModuleName(m) == name })
		if i < 0 {
			return fmt.Errorf("module %s is not in /%s", name, modulesPath)
		}
		add(mods[i])
		var load []string
		for _, m := range mods {
			if want[m] {
				load = append(load, m)
				done[m] = true
			}
		}
		var errs []error
		for _, r := range modload.Load(context.Background(), load, deps, 2*runtime.NumCPU(), modload.Finit) {
			if r.Err != nil {
				errs = append(errs, r.Err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// securityLine prints `genai-os: security secureboot=on|off lockdown=<mode>`.
func (in *initProc) securityLine(secureBoot string) {
	mode, err := boot.Lockdown(in.root)
	if err != nil {
		in.log.Warn("lockdown", "err", err)
		mode = "unknown"
	}
	fmt.Fprintf(os.Stdout, "genai-os: security secureboot=%s lockdown=%s\n", secureBoot, mode)
}

// auditUnits reports the starts and stops of service units to the kernel's audit log as systemd
// does (SERVICE_START / SERVICE_STOP, res=success or failed), from the manager's event stream. It
// subscribes before the boot units start. Without audit in the kernel it does nothing; while audit
// is disabled (no audit=1 and no daemon enabled it) the kernel drops the records.
func (in *initProc) auditUnits(m *svc.Manager) {
	s, err := auditmsg.Open()
	if err != nil {
		in.log.Debug("no audit records of units", "err", err)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "/usr/sbin/consciousness-init"
	}
	comm := filepath.Base(exe)
	sub := m.Subscribe()
	in.goSafe("audit units", func() {
		defer s.Close()
		last := map[string]svc.State{}
		warned := false
		for e := range sub.C {
			if e.Kind != "unit" || !strings.HasSuffix(e.Unit, ".service") {
				continue
			}
			prev, now := last[e.Unit], svc.State(e.State)
			last[e.Unit] = now
			typ, ok, send := unitAuditRecord(prev, now)
			if !send {
				continue
			}
			if err := s.Send(typ, auditmsg.ServiceText(e.Unit, comm, exe, ok)); err != nil && !warned {
				warned = true // once: a kernel that refuses one refuses them all
				in.log.Warn("audit record of a unit", "unit", e.Unit, "err", err)
			}
		}
	})
}

// unitAuditRecord maps a unit's state change to the record systemd would send: up (running, or a
// oneshot exited) is a start that succeeded; failing on the way up a start that failed; going
// down from up a stop (failed when it crashed).
func unitAuditRecord(prev, now svc.State) (typ uint16, ok, send bool) {
	up := prev == svc.Running || prev == svc.Exited || prev == svc.Stopping
	switch {
	case (now == svc.Running || now == svc.Exited) && prev != svc.Running && prev != svc.Exited:
		return auditmsg.ServiceStart, true, true
	case now == svc.Failed && !up:
		return auditmsg.ServiceStart, false, true
	case now == svc.Failed, now == svc.Restarting && up:
		return auditmsg.ServiceStop, false, true
	case now == svc.Inactive && up:
		return auditmsg.ServiceStop, true, true
	}
	return 0, false, false
}
