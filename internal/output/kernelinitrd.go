package output

import (
	"context"
	"io"
	"os"
)

// kernelInitrd writes the kernel and the initramfs beside each other, as QEMU's -kernel and
// -initrd take them: the fastest boot a test has (no firmware, no boot loader). The command line
// is the caller's (the build manifest records the menu's default).
type kernelInitrd struct{}

func (kernelInitrd) Loaders() []string { return nil }

func (kernelInitrd) Names(base string) []string { return []string{base + ".vmlinuz", base + ".initrd"} }

func (w kernelInitrd) Write(ctx context.Context, c *Chain, dir string) ([]Written, error) {
	names := w.Names(c.Base)
	var out []Written
	for i, src := range []string{c.Kernel, c.Initrd} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tmp := Temp(dir, names[i])
		if err := copyFile(tmp, src); err != nil {
			return nil, err
		}
		out = append(out, Written{Name: names[i], Format: []string{"vmlinuz", "initrd"}[i], Path: tmp})
	}
	return out, nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
