package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/genai-os/genai-build/initramfs/boot"
	"github.com/genai-os/genai-build/initramfs/live"
	"github.com/genai-os/genai-build/initramfs/modload"
)

// Stage 1 and stage 2 (initramfs/README.md, "The root on the medium"): an early initramfs with
// live.conf finds the medium, mounts its layers and executes the init of the new root, marked
// by stageEnv so that it boots normally there.
const (
	stageEnv     = "CONSCIOUSNESS_STAGE"
	newRootDir   = "newroot"
	liveRunDir   = "run/live"
	stage2Init   = "/usr/sbin/consciousness-init"
	mediumMounts = "medium"
)

// liveModules are the modaliases of what stage 1 needs without a device asking for it: the
// medium's and the layers' file systems, which the kernel itself would ask for as
// request_module("fs-<type>") (fs/filesystems.c, get_fs_type), and the loop driver's control
// device (drivers/block/loop.c, MODULE_ALIAS("devname:loop-control")).
var liveModules = []string{"fs-iso9660", "fs-vfat", "fs-squashfs", "fs-overlay", "devname:loop-control"}

// liveRequired must be loaded before the layers are mounted, by module name; verityRequired too
// when live.conf has verity (their dependencies dm-bufio and reed_solomon come with them).
var (
	liveRequired   = []string{"loop", "squashfs", "overlay"}
	verityRequired = []string{"dm_mod", "dm_verity"}
)

// isLive says whether this init is stage 1: live.conf is there and no earlier init handed over.
func (in *initProc) isLive() bool {
	if in.stage2 {
		return false
	}
	_, err := os.Stat(in.path(live.ConfPath))
	return err == nil
}

// liveRoot is stage 1. It returns only when the boot failed, after reporting it.
func (in *initProc) liveRoot(rr rootReport) {
	log := in.log
	f, err := os.Open(in.path(live.ConfPath))
	if err != nil {
		in.failMedium(rr, live.Conf{}, "", fmt.Sprintf("/%s: %v", live.ConfPath, err))
		return
	}
	c, err := live.ParseConf("/"+live.ConfPath, f)
	f.Close()
	if err != nil {
		in.failMedium(rr, c, "", err.Error())
		return
	}
	for _, k := range c.Unknown {
		log.Warn("live.conf: unknown key ignored", "key", k)
	}
	log.Info("looking for the medium", "build", c.BuildID, "layers", strings.Join(c.Layers, ","))

	// The storage drivers load while the scan runs: each device is tried as soon as it shows up.
	ctx, stop := context.WithCancel(context.Background())
	modsDone := make(chan struct{})
	extra := make([]string, len(liveModules))
	for i, a := range liveModules {
		extra[i] = modload.Normalize(a)
	}
	in.goSafe("storage modules", func() {
		defer close(modsDone)
		in.loadModules(ctx, extra...)
	})
	finder := live.Finder{SysBlock: in.path("sys/class/block"), Timeout: in.cmdline.LiveTimeout, Log: log,
		Probe: in.slotProbe(live.MountProbe(c, in.path("dev"), in.path(filepath.Join(liveRunDir, mediumMounts))))}
	m, err := finder.Find(ctx)
	stop()
	<-modsDone
	if err != nil {
		var nf *live.NotFoundError
		if errors.As(err, &nf) {
			in.failNotFound(rr, c, nf)
		} else {
			in.failMedium(rr, c, "", err.Error())
		}
		return
	}
	if !in.checkSlot(rr, c, m.Device.Name) {
		return
	}
	found, _ := boot.SinceBoot()
	// The line boot tests wait for; keep its format stable (fields may be added at the end).
	fmt.Fprintf(os.Stdout, "genai-os: live medium dev=%s build=%s layers=%d ms=%d boot_ms=%d fs=%s\n",
		m.Device.Name, live.Short(c.BuildID), len(c.Layers), in.initMillis(found), found/1e6, m.FSType)

	if c.Verity != nil {
		in.loadRequired(append(liveRequired, verityRequired...))
	} else {
		in.loadRequired(liveRequired)
	}
	opts := live.RootOptions{Run: in.path(liveRunDir), Dir: in.path(newRootDir), Tmpfs: in.cmdline.LiveTmpfs, ToRAM: in.cmdline.LiveToRAM}
	root, err := live.MountRoot(c, m, opts)
	if err != nil {
		in.failMedium(rr, c, m.Device.Name, err.Error())
		return
	}
	if c.Verity != nil {
		// Every layer is mounted through its verity device (MountRoot refuses anything else).
		fmt.Fprintf(os.Stdout, "genai-os: verity on layers=%d on_corruption=%s\n", len(root.Verity), c.OnCorruption)
		log.Info("layers verified", "devices", strings.Join(root.Verity, " "))
	}
	if in.cmdline.LiveToRAM {
		log.Info("layers copied to RAM, medium unmounted", "ms", root.CopyMs)
	}
	if _, err := os.Stat(filepath.Join(root.Dir, stage2Init)); err != nil {
		in.failMedium(rr, c, m.Device.Name, fmt.Sprintf("the layers hold no %s: %v", stage2Init, err))
		return
	}
	mounted, _ := boot.SinceBoot()
	log.Info("root mounted, switching", "loops", strings.Join(root.Loops, " "), "tmpfs", opts.Tmpfs,
		"ms", in.initMillis(mounted), "boot_ms", mounted/1e6)
	if err := live.SwitchRoot(root.Dir, live.APIMounts, []string{"/tmp"}); errors.Is(err, live.ErrNotFreed) {
		log.Warn("switch root", "err", err)
	} else if err != nil {
		in.failMedium(rr, c, m.Device.Name, "switch root: "+err.Error())
		return
	}
	env := append(os.Environ(), stageEnv+"=2", mediumEnv+"="+m.Device.Name)
	err = syscall.Exec(stage2Init, []string{stage2Init}, env)
	// Only reached if exec failed: the initramfs is gone, so say so and stay PID 1.
	in.failMedium(rr, c, m.Device.Name, fmt.Sprintf("exec %s: %v", stage2Init, err))
}

// loadRequired makes sure the layers' modules are loaded: the scan may have found the medium
// before the loader's first round reached them, and was then stopped.
func (in *initProc) loadRequired(names []string) {
	mods, deps, ok := in.moduleFiles()
	if !ok {
		return
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	byName := map[string]string{}
	for _, m := range mods {
		byName[modload.ModuleName(m)] = m
	}
	need := map[string]bool{}
	var add func(p string)
	add = func(p string) {
		if need[p] {
			return
		}
		if _, err := os.Stat(in.path(filepath.Join("sys/module", modload.ModuleName(p)))); err == nil {
			return // loaded (or built in)
		}
		need[p] = true
		for _, d := range deps[p] {
			add(d)
		}
	}
	for n := range want {
		if p, ok := byName[n]; ok {
			add(p)
		}
	}
	var todo []string
	for _, m := range mods {
		if need[m] {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return
	}
	for _, r := range modload.Load(context.Background(), todo, deps, 2*runtime.NumCPU(), modload.Finit) {
		if r.Err != nil {
			in.log.Warn("module failed", "err", r.Err)
		}
	}
}

// failNotFound reports that no device held this build's medium: what was looked for and what
// each device held.
func (in *initProc) failNotFound(rr rootReport, c live.Conf, nf *live.NotFoundError) {
	var seen []string
	for _, s := range nf.Seen {
		seen = append(seen, s.Device+": "+s.Why)
	}
	saw := strings.Join(seen, "; ")
	if saw == "" {
		saw = "no block device at all"
	}
	in.everyConsole(fmt.Sprintf("genai-os: failed reason=medium edition=%s build=%s timeout_s=%d looked_for=/%s seen=%q",
		editionOf(rr), live.Short(c.BuildID), int(nf.Timeout.Seconds()), live.BuildIDPath, saw))
	in.everyConsole(fmt.Sprintf("genai-os: no medium holding build %s turned up within %v: every disk, partition and CD was "+
		"looked at for /%s with that id. Seen: %s. Put this build's CD or stick in, or give consciousness.live.timeout=<s> "+
		"for a slower device.", c.BuildID, nf.Timeout, live.BuildIDPath, saw))
	in.afterFailure()
}

// failMedium reports a medium that was found but could not become the root, or a live.conf
// that cannot be read.
func (in *initProc) failMedium(rr rootReport, c live.Conf, dev, detail string) {
	if dev == "" {
		dev = "none"
	}
	in.everyConsole(fmt.Sprintf("genai-os: failed reason=medium edition=%s build=%s dev=%s detail=%q",
		editionOf(rr), live.Short(c.BuildID), dev, detail))
	in.afterFailure()
}

func editionOf(rr rootReport) string {
	if rr.manifest.Edition == "" {
		return "unknown"
	}
	return rr.manifest.Edition
}
