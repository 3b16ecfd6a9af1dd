package initrd_test

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/initrd"
)

// One segment per component, joined into the file the boot loader hands to the kernel.
func ExampleConcat() {
	date := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	base, modules := fstree.New(), fstree.New()
	if err := base.Add(fstree.Entry{Path: "init", Kind: fstree.Symlink, Target: "bin/init"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := modules.Add(fstree.Entry{Path: "lib/modules/virtio_blk.ko.xz", Kind: fstree.File, Mode: 0o644, Data: []byte("...")}); err != nil {
		fmt.Println(err)
		return
	}
	var seg1, seg2, out bytes.Buffer
	if err := initrd.WriteSegment(&seg1, base, initrd.Options{SourceDate: date}); err != nil {
		fmt.Println(err)
		return
	}
	if err := initrd.WriteSegment(&seg2, modules, initrd.Options{SourceDate: date, Compression: initrd.Zstd}); err != nil {
		fmt.Println(err)
		return
	}
	if err := initrd.Concat(&out, []io.Reader{&seg1, &seg2}...); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Len()%4 == 0)
	// Output: true
}
