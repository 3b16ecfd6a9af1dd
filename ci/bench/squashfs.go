package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/squashfs"
)

// squashfsCompare writes one tree as a squashfs image with our writer and with squashfs-tools'
// mksquashfs, with the same block size, zstd level and number of CPUs, and reports both sizes
// and the median time of runs runs each. mksquashfs reads the tree from dir: a host directory the
// tree was read from (owners there are ignored: allRoot), or, when dir is "", the tree staged into
// work (with its owners when we are root). Without mksquashfs it returns one row saying so.
func squashfsCompare(label string, tree *fstree.Tree, dir string, allRoot bool, work string, level, runs int) ([]row, error) {
	mk, err := exec.LookPath("mksquashfs")
	if err != nil {
		return []row{{"squashfs writer vs mksquashfs", "not measured", "mksquashfs (squashfs-tools) is not installed"}}, nil
	}
	if dir == "" {
		dir = filepath.Join(work, "squashfs-tree")
		if err := stageTree(tree, dir); err != nil {
			return nil, fmt.Errorf("staging the tree for mksquashfs: %w", err)
		}
		defer os.RemoveAll(dir)
		allRoot = os.Geteuid() != 0
	}
	const blockSize = squashfs.DefaultBlockSize
	cpus := runtime.NumCPU()
	ours := filepath.Join(work, "ours.squashfs")
	theirs := filepath.Join(work, "mksquashfs.squashfs")
	defer os.Remove(ours)
	defer os.Remove(theirs)
	var oursT, theirsT []time.Duration
	var oursSize int64
	for range runs {
		f, err := os.Create(ours)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		oursSize, err = squashfs.Write(f, tree, squashfs.Options{BlockSize: blockSize, Level: level, Workers: cpus})
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		oursT = append(oursT, time.Since(start))
		args := []string{dir, theirs, "-noappend", "-quiet", "-no-progress", "-comp", "zstd",
			"-Xcompression-level", strconv.Itoa(level), "-b", strconv.Itoa(blockSize),
			"-processors", strconv.Itoa(cpus), "-no-xattrs", "-mkfs-time", "0", "-all-time", "0"}
		if allRoot {
			args = append(args, "-all-root")
		}
		cmd := exec.Command(mk, args...)
		start = time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%v: %v\n%s", cmd.Args, err, out)
		}
		theirsT = append(theirsT, time.Since(start))
	}
	fi, err := os.Stat(theirs)
	if err != nil {
		return nil, err
	}
	how := fmt.Sprintf("%s, zstd level %d, %d KiB blocks, %d CPUs, median of %d", label, level, blockSize>>10, cpus, runs)
	to, tt := median(oursT), median(theirsT)
	return []row{
		{fmt.Sprintf("squashfs image, our writer, zstd %d", level), fmt.Sprintf("%s in %s", mb(oursSize), secs(to)), how},
		{fmt.Sprintf("squashfs image, mksquashfs, zstd %d", level), fmt.Sprintf("%s in %s", mb(fi.Size()), secs(tt)), "squashfs-tools " + how},
		{"squashfs ours / mksquashfs", fmt.Sprintf("size %.3f, speed %.2f", float64(oursSize)/float64(fi.Size()), tt.Seconds()/to.Seconds()),
			"targets: size ≤ 1.03, speed ≥ 0.5"},
	}, nil
}

// stageTree writes a tree into dir with its modes and, when we are root, its owners: the input
// mksquashfs needs. Only directories, files and symlinks (what package trees hold today).
func stageTree(tree *fstree.Tree, dir string) error {
	root := os.Geteuid() == 0
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var dirs []*fstree.Entry
	for _, e := range tree.Entries() {
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		switch e.Kind {
		case fstree.Dir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, e)
		case fstree.Symlink:
			if err := os.Symlink(e.Target, p); err != nil {
				return err
			}
		case fstree.File:
			data, err := e.ReadAll()
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				return err
			}
			if err := os.Chmod(p, os.FileMode(e.PermBits())&os.ModePerm|specialBits(e)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: cannot stage a %s", e.Path, e.Kind)
		}
		if root {
			if err := os.Lchown(p, e.UID, e.GID); err != nil {
				return err
			}
		}
	}
	for _, e := range dirs {
		if err := os.Chmod(filepath.Join(dir, filepath.FromSlash(e.Path)), os.FileMode(e.PermBits())&os.ModePerm|specialBits(e)); err != nil {
			return err
		}
	}
	return nil
}

func specialBits(e *fstree.Entry) os.FileMode {
	var m os.FileMode
	b := e.PermBits()
	if b&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if b&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if b&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// hostSquashfs compares the writers on a host directory (read as root-owned, as overlays are).
func hostSquashfs(dir, work string) ([]row, error) {
	tree := fstree.New()
	if err := tree.AddHostDir(dir, "", "bench", false); err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return squashfsCompare(fmt.Sprintf("host %s (%d entries)", dir, tree.Len()), tree, dir, true, work, squashfs.DefaultLevel, 3)
}

// squashfsLevels are the zstd levels compared: 3, klauspost/compress's default encoder, and 15,
// mksquashfs' default, where klauspost's best encoder compresses less than the C library.
var squashfsLevels = []int{3, squashfs.DefaultLevel}
