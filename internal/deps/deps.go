// Package deps pins the project's module dependencies while the packages that use them are written.
// Delete once every import below is used elsewhere.
package deps

import (
	_ "github.com/ProtonMail/go-crypto/openpgp"
	_ "github.com/diskfs/go-diskfs"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/spf13/cobra"
	_ "github.com/u-root/gobusybox/src/pkg/bb"
	_ "github.com/u-root/u-root/pkg/cpio"
	_ "github.com/ulikunitz/xz"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "gopkg.in/yaml.v3"
)
