package squashfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/squashfs"
)

func Example() {
	tree := fstree.New()
	for _, e := range []fstree.Entry{
		{Path: "etc/hostname", Kind: fstree.File, Mode: 0o644, Data: []byte("genai\n")},
		{Path: "etc/shadow", Kind: fstree.File, Mode: 0o640, GID: 42, Data: []byte("root:*::0:99999:7:::\n")},
		{Path: "usr/bin/ping", Kind: fstree.File, Mode: 0o755, Data: []byte("\x7fELF"),
			Xattrs: map[string][]byte{"security.capability": {0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}},
		{Path: "dev/console", Kind: fstree.CharDev, Mode: 0o600, Major: 5, Minor: 1},
	} {
		if err := tree.Add(e); err != nil {
			fmt.Println(err)
			return
		}
	}
	f, err := os.Create(filepath.Join(os.TempDir(), "example.squashfs"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	size, err := squashfs.Write(f, tree, squashfs.Options{SourceDate: time.Unix(1764000000, 0)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(size)
	// Output: 4096
}
