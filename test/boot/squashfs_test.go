package boot_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/initrd"
	"github.com/genai-os/genai-build/internal/iso"
	"github.com/genai-os/genai-build/internal/qemu"
	"github.com/genai-os/genai-build/internal/squashfs"
)

// TestSquashfsMount has Debian's kernel mount an image of internal/squashfs: the server ISO's
// kernel and initramfs, booted directly with one more initramfs segment holding the kernel
// package's squashfs module, and the image as a read-only virtio disk. In the init's test shell
// it loads the module, mounts the disk and reads the tree back: a directory of 300 entries (two
// directory headers), file contents (blocks, fragments, a sparse block), a symlink, a hard link;
// and with an xattr in the image, the mount checks the layout of the tables at its end.
func TestSquashfsMount(t *testing.T) {
	needQEMU(t)
	res := serverISO(t)
	work := t.TempDir()
	kernel := filepath.Join(work, "vmlinuz")
	var initramfs bytes.Buffer
	for p, dst := range map[string]string{"boot/vmlinuz": kernel, "boot/initrd.img": ""} {
		b, err := iso.ReadFile(res.Image, p)
		if err != nil {
			t.Fatal(err)
		}
		if dst == "" {
			initramfs.Write(b)
			continue
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	module := squashfsModule(t)
	seg := fstree.New()
	if err := seg.Add(fstree.Entry{Path: "lib/test/squashfs.ko.xz", Kind: fstree.File, Mode: 0o644, Data: module}); err != nil {
		t.Fatal(err)
	}
	var extra bytes.Buffer
	if err := initrd.Write(&extra, seg, initrd.Options{Compression: initrd.Zstd}); err != nil {
		t.Fatal(err)
	}
	combined := filepath.Join(work, "initrd.img")
	f, err := os.Create(combined)
	if err != nil {
		t.Fatal(err)
	}
	if err := initrd.Concat(f, &initramfs, &extra); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tree := fstree.New()
	files := map[string][]byte{
		"etc/hostname":     []byte("squashed\n"),
		"data/two-blocks":  bytes.Repeat([]byte("0123456789abcdef"), 2*squashfs.DefaultBlockSize/16+100),
		"data/sparse-head": append(make([]byte, squashfs.DefaultBlockSize), []byte("after a hole\n")...),
	}
	for i := range 300 {
		files[fmt.Sprintf("big/entry-%03d", i)] = []byte(fmt.Sprintf("entry %d\n", i))
	}
	for p, data := range files {
		if err := tree.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, UID: 1000, GID: 1000, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []fstree.Entry{
		{Path: "data/link-to-hostname", Kind: fstree.Hardlink, Target: "etc/hostname"},
		{Path: "etc/motd", Kind: fstree.Symlink, Mode: 0o777, Target: "hostname"},
		// An xattr makes the kernel check the xattr tables at mount (super.c): they must end
		// exactly at bytes_used, and the id table exactly where they start.
		{Path: "usr/bin/ping", Kind: fstree.File, Mode: 0o755, Data: []byte("ping"),
			Xattrs: map[string][]byte{"security.capability": {0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}},
	} {
		if err := tree.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(work, "root.squashfs")
	out, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := squashfs.Write(out, tree, squashfs.Options{SourceDate: sourceDate}); err != nil {
		t.Fatal(err)
	}
	out.Close()

	ready := regexp.MustCompile(`genai-os: ready `)
	m := startVM(t, qemu.Config{Kernel: kernel, Initrd: combined,
		Append: "console=ttyS0,115200 consciousness.test=shell",
		Extra:  []string{"-drive", "file=" + img + ",if=virtio,format=raw,readonly=on"}}, 6*time.Minute)
	if _, err := m.WaitFor(ready); err != nil {
		t.Fatalf("no ready line: %v\n%s", err, m.Console())
	}
	if err := m.Expect("$ ", 2*time.Minute); err != nil {
		t.Fatalf("no shell: %v\n%s", err, m.Console())
	}
	run := shellRunner(t, m)
	run("insmod /lib/test/squashfs.ko.xz")
	run("mkdir -p /mnt/sq")
	if out := run("mount -t squashfs -o ro /dev/vda /mnt/sq && echo MOUNTED"); !strings.Contains(out, "\nMOUNTED") {
		t.Fatalf("the kernel did not mount the image:\n%s", out)
	}
	if out := run("ls /mnt/sq/big | wc -l"); !regexp.MustCompile(`\n\s*300\s*\r?\n`).MatchString(out) {
		t.Errorf("ls of a 300-entry directory:\n%s", out)
	}
	if out := run("cat /mnt/sq/big/entry-299 /mnt/sq/etc/motd /mnt/sq/data/link-to-hostname"); !strings.Contains(out, "entry 299\r\nsquashed\r\nsquashed\r\n") {
		t.Errorf("reading files, a symlink and a hard link:\n%s", out)
	}
	for _, p := range []string{"data/two-blocks", "data/sparse-head"} {
		sum := sha256.Sum256(files[p])
		if out := run("shasum -a 256 /mnt/sq/" + p); !strings.Contains(out, hex.EncodeToString(sum[:])) {
			t.Errorf("%s: want SHA-256 %x, the guest says:\n%s", p, sum, out)
		}
	}
}

// shellRunner returns a function that types a command into the init's test shell on the console
// and returns what the console showed until the next prompt.
func shellRunner(t *testing.T, m *qemu.Machine) func(cmd string) string {
	return func(cmd string) string {
		t.Helper()
		from := m.Mark()
		if err := m.Send(cmd + "\r"); err != nil {
			t.Fatal(err)
		}
		if err := m.Expect("\n$ ", 2*time.Minute); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, m.Console())
		}
		return m.Since(from)
	}
}

// squashfsModule returns fs/squashfs/squashfs.ko.xz from the locked kernel package in the cache
// (the server edition does not load it, so its initramfs does not hold it).
func squashfsModule(t *testing.T) []byte {
	t.Helper()
	module := kernelFiles(t, "/kernel/fs/squashfs/squashfs.ko.xz")["/kernel/fs/squashfs/squashfs.ko.xz"]
	if module == nil {
		t.Fatal("no squashfs.ko.xz in the kernel package")
	}
	return module
}

// kernelFiles returns the files of the locked kernel package whose paths end in one of suffixes,
// by suffix, reading the package once.
func kernelFiles(t *testing.T, suffixes ...string) map[string][]byte {
	t.Helper()
	lock, err := debian.ReadLock(filepath.Join(root, build.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	lp, ok := lock.Followed("linux-image-amd64")
	if !ok {
		t.Fatal("the lock follows no linux-image-amd64")
	}
	blob, err := testCache(t).Blob(lp.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	deb, err := debian.OpenDeb(blob)
	if err != nil {
		t.Fatal(err)
	}
	defer deb.Close()
	out := map[string][]byte{}
	err = deb.WalkData(func(hdr *tar.Header, r io.Reader) error {
		for _, s := range suffixes {
			if strings.HasSuffix(hdr.Name, s) {
				data, err := io.ReadAll(r)
				out[s] = data
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", lp.Name, err)
	}
	return out
}
