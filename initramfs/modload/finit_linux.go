package modload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Finit loads a module file with finit_module(2). Compressed modules
// (.ko.xz, .ko.zst, .ko.gz) are handed to the kernel with
// MODULE_INIT_COMPRESSED_FILE (include/uapi/linux/module.h), which needs
// CONFIG_MODULE_DECOMPRESS. A module that is already loaded (EEXIST) is a success.
func Finit(_ context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if !strings.HasSuffix(path, ".ko") {
		flags |= unix.MODULE_INIT_COMPRESSED_FILE
	}
	for {
		err = unix.FinitModule(int(f.Fd()), "", flags)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err == nil || errors.Is(err, unix.EEXIST) {
		return nil
	}
	return fmt.Errorf("finit_module: %w", err)
}
