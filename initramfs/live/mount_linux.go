package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/initramfs/dm"
)

// MountProbe returns the ProbeFunc of a real boot: mount each device read-only (devDir/<name>,
// devtmpfs' node) at dir as each of its FSTypes, and judge what it holds against c. The medium
// found stays mounted; anything else is unmounted again.
func MountProbe(c Conf, devDir, dir string) ProbeFunc {
	return func(_ context.Context, d Device) (Medium, bool, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Medium{}, false, err
		}
		node := filepath.Join(devDir, d.Name)
		var whys []string
		final := true
		for _, fs := range d.FSTypes() {
			err := unix.Mount(node, dir, fs, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
			if err != nil {
				// EINVAL: not this file system (its superblock check failed). Anything else (ENODEV:
				// its module is still loading; ENOMEDIUM, EIO: the drive is not ready) is tried again.
				if !errors.Is(err, unix.EINVAL) {
					final = false
				}
				whys = append(whys, fmt.Sprintf("not %s (%v)", fs, err))
				continue
			}
			layers, err := judgeMounted(c, dir)
			if err != nil {
				unix.Unmount(dir, 0)
				return Medium{}, true, err
			}
			return Medium{Device: d, FSType: fs, Dir: dir, Layers: layers}, true, nil
		}
		return Medium{}, final, errors.New(strings.Join(whys, ", "))
	}
}

func judgeMounted(c Conf, dir string) ([]Layer, error) {
	id, err := os.ReadFile(filepath.Join(dir, BuildIDPath))
	if errors.Is(err, os.ErrNotExist) {
		id, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", BuildIDPath, err)
	}
	var layers []Layer
	if id != nil && bytes.Equal(bytes.TrimSpace(id), []byte(c.BuildID)) {
		b, err := os.ReadFile(filepath.Join(dir, LayersPath))
		if err != nil {
			return nil, fmt.Errorf("this build, but /%s: %w", LayersPath, err)
		}
		if layers, err = ParseLayers("/"+LayersPath, bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("this build, but %w", err)
		}
	}
	err = Judge(c, id, layers, func(name string) (int64, error) {
		fi, err := os.Stat(filepath.Join(dir, LayerDir, name+LayerSuffix))
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	})
	return layers, err
}

// Root is the root made from a medium's layers.
type Root struct {
	Dir   string // the overlay's mount point
	Loops []string
	// Verity are the verity devices the layers are mounted from (/dev/dm-N), one per layer, or
	// none when live.conf has no verity.
	Verity []string
	// CopyMs is how long toram's copy took (0 without toram).
	CopyMs int64
}

// RootOptions says where and how to make the root.
type RootOptions struct {
	Run   string // a tmpfs (normally /run/live) that will be moved into the new root whole
	Dir   string // where to mount the overlay (a directory of the initramfs)
	Tmpfs string // the upper layer's tmpfs size= (bytes, k/m/g suffix or a % of RAM); "50%" when ""
	ToRAM bool   // copy the layers into a tmpfs first and unmount the medium
}

// MountRoot loop-mounts each layer of c read-only (lowest first) under o.Run/layer/<name>, and
// mounts overlayfs on o.Dir: the layers as lower directories (the highest first, as overlayfs
// wants them), upper and work directories on a tmpfs of their own at o.Run/cow. When c has
// verity, each layer is mounted from a read-only dm-verity device over its loop device, with
// live.conf's parameters; a layer that fails to set up is an error, never mounted without.
// With o.ToRAM the copies in RAM go through verity the same way: a block corrupted on the medium
// is copied as it is and fails when read.
func MountRoot(c Conf, m Medium, o RootOptions) (Root, error) {
	r := Root{Dir: o.Dir}
	src := filepath.Join(m.Dir, LayerDir)
	if o.ToRAM {
		t0 := time.Now()
		var err error
		if src, err = toRAM(c, m, filepath.Join(o.Run, "toram")); err != nil {
			return r, fmt.Errorf("toram: %w", err)
		}
		r.CopyMs = time.Since(t0).Milliseconds()
		if err := unix.Unmount(m.Dir, 0); err != nil {
			return r, fmt.Errorf("toram: unmounting the medium: %w", err)
		}
	}
	var lower []string
	for _, name := range c.Layers {
		dir := filepath.Join(o.Run, "layer", name)
		var v *verityLayer
		if c.Verity != nil {
			p, ok := c.Verity[name]
			if !ok { // ParseConf refuses this; never mount a layer unverified
				return r, fmt.Errorf("layer %s: no verity parameters", name)
			}
			v = &verityLayer{name: name, params: p, onCorruption: c.OnCorruption}
		}
		loop, err := mountLayer(filepath.Join(src, name+LayerSuffix), dir, v)
		if err != nil {
			return r, fmt.Errorf("layer %s: %w", name, err)
		}
		r.Loops = append(r.Loops, loop)
		if v != nil {
			r.Verity = append(r.Verity, v.node)
		}
		lower = append([]string{dir}, lower...)
	}
	cow := filepath.Join(o.Run, "cow")
	size := o.Tmpfs
	if size == "" {
		size = "50%"
	}
	if err := mountDir("tmpfs", cow, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size="+size); err != nil {
		return r, fmt.Errorf("upper layer: %w", err)
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(cow, d), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return r, err
		}
	}
	// Documentation/filesystems/overlayfs.rst: lowerdir is a colon-separated list, top first.
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"),
		filepath.Join(cow, "upper"), filepath.Join(cow, "work"))
	if err := mountDir("overlay", o.Dir, "overlay", 0, opts); err != nil {
		return r, fmt.Errorf("overlay: %w", err)
	}
	return r, nil
}

func mountDir(source, target, fstype string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount -t %s %s %s -o %s: %w", fstype, source, target, data, err)
	}
	return nil
}

// toRAM copies the layer files into a tmpfs just big enough at dir and returns dir.
func toRAM(c Conf, m Medium, dir string) (string, error) {
	var total int64
	sizes := map[string]int64{}
	for _, l := range m.Layers {
		sizes[l.Name] = l.Size
	}
	for _, name := range c.Layers {
		total += sizes[name]
	}
	// One page per file for rounding, and a little for the directory itself.
	size := total + int64(len(c.Layers)+1)*4096 + 64<<10
	if err := mountDir("toram", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=0755,size=%d", size)); err != nil {
		return "", err
	}
	for _, name := range c.Layers {
		if err := copyFile(filepath.Join(m.Dir, LayerDir, name+LayerSuffix), filepath.Join(dir, name+LayerSuffix)); err != nil {
			return "", err
		}
	}
	// Read-only from here: the loop devices must not see a layer change under them.
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return "", fmt.Errorf("remount read-only: %w", err)
	}
	return dir, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}

// verityLayer is a layer to mount through dm-verity; mountLayer sets node.
type verityLayer struct {
	name         string
	params       dm.VerityParams
	onCorruption string
	node         string
}

// mountLayer attaches file to a free loop device, read-only, and mounts it as squashfs on dir,
// through a verity device over the loop device when v is set. The loop device clears itself
// (LO_FLAGS_AUTOCLEAR) when the mount (or the verity device) goes.
func mountLayer(file, dir string, v *verityLayer) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	loop, lf, err := attachLoop(f)
	if err != nil {
		return "", err
	}
	// The mount holds the loop device from here; closing our descriptor then lets autoclear work.
	defer lf.Close()
	src := loop
	if v != nil {
		if src, err = verityDevice(lf, v); err != nil {
			return loop, err
		}
		v.node = src
	}
	if err := mountDir(src, dir, "squashfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		if v != nil {
			return loop, fmt.Errorf("%w (through verity: the layer failed verification, or is no squashfs)", err)
		}
		return loop, err
	}
	return loop, nil
}

// verityDevice makes the read-only verity device "live-<layer>" over the loop device lf and
// returns its node.
func verityDevice(lf *os.File, v *verityLayer) (string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(lf.Fd()), &st); err != nil {
		return "", err
	}
	t, err := dm.VerityTarget(fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)), v.params, v.onCorruption)
	if err != nil {
		return "", err
	}
	dev, err := dm.Create("live-"+v.name, "GENAI-VERITY-"+v.name, []dm.Target{t}, true)
	if err != nil {
		return "", fmt.Errorf("verity: %w", err)
	}
	node := dm.Node(dev)
	if err := dm.WaitNode(node, 5*time.Second); err != nil {
		return "", fmt.Errorf("verity: %s: %w", node, err)
	}
	return node, nil
}

// attachLoop binds backing to a free loop device, read-only with autoclear, and returns the
// device's path and an open descriptor of it (to be closed once it is mounted).
func attachLoop(backing *os.File) (string, *os.File, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	defer ctl.Close()
	for range 10 { // another process may take the free device first: ask again
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", nil, fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		path := fmt.Sprintf("/dev/loop%d", n)
		lf, err := openLoop(path)
		if err != nil {
			return "", nil, err
		}
		err = configureLoop(int(lf.Fd()), int(backing.Fd()))
		if errors.Is(err, unix.EBUSY) {
			lf.Close()
			continue
		}
		if err != nil {
			lf.Close()
			return "", nil, fmt.Errorf("%s: %w", path, err)
		}
		return path, lf, nil
	}
	return "", nil, errors.New("no free loop device")
}

// openLoop opens a loop device node, waiting a little for devtmpfs to show it.
func openLoop(path string) (*os.File, error) {
	for i := 0; ; i++ {
		lf, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) || i == 50 {
			return lf, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// configureLoop binds fd to the loop device loopFd read-only with autoclear: LOOP_CONFIGURE (Linux
// 5.8, one ioctl), else LOOP_SET_FD and LOOP_SET_STATUS64 (include/uapi/linux/loop.h).
func configureLoop(loopFd, fd int) error {
	flags := uint32(unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_AUTOCLEAR)
	cfg := unix.LoopConfig{Fd: uint32(fd), Info: unix.LoopInfo64{Flags: flags}}
	err := unix.IoctlLoopConfigure(loopFd, &cfg)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
		if err != nil {
			return fmt.Errorf("LOOP_CONFIGURE: %w", err)
		}
		return nil
	}
	if err := unix.IoctlSetInt(loopFd, unix.LOOP_SET_FD, fd); err != nil {
		return fmt.Errorf("LOOP_SET_FD: %w", err)
	}
	if err := unix.IoctlLoopSetStatus64(loopFd, &unix.LoopInfo64{Flags: flags}); err != nil {
		unix.IoctlSetInt(loopFd, unix.LOOP_CLR_FD, 0)
		return fmt.Errorf("LOOP_SET_STATUS64: %w", err)
	}
	return nil
}
