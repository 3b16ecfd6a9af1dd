// Package dm sets up device-mapper devices from the init, with the kernel's ioctls only
// (include/uapi/linux/dm-ioctl.h): Debian's kernel builds device-mapper as a module, so the
// command line's dm-mod.create= (CONFIG_DM_INIT) is not there, and there is no udev or dmsetup in
// the initramfs. Its first user is a dm-verity device over each layer of the root on the medium.
package dm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// VerityBlockSize is the data and hash block size of the layers' trees (the page size, which a
// data block must not exceed: Documentation/admin-guide/device-mapper/verity.rst).
const VerityBlockSize = 4096

// VerityTreeFormat names the tree layout the builder appends and the init's table reads: change
// it when either changes.
const VerityTreeFormat = "verity-v1-sha256-4096-superblock-whole-blocks"

// SectorSize is the unit of a device-mapper table's start and length.
const SectorSize = 512

// VerityParams are what a verity table needs besides the devices, for a tree that follows the data
// in the same file (veritysetup format --hash-offset): format version 1, sha256, 4096-byte blocks.
type VerityParams struct {
	RootHash       []byte
	Salt           []byte
	DataBlocks     uint64 // data blocks from the device's start
	HashStartBlock uint64 // the tree's first (root-level) block, in 4096-byte blocks from the device's start
}

// String is the parameters as live.conf carries them: "<root-hash-hex> <salt-hex> <data-blocks>
// <hash-start-block>".
func (p VerityParams) String() string {
	return fmt.Sprintf("%x %x %d %d", p.RootHash, p.Salt, p.DataBlocks, p.HashStartBlock)
}

// ParseVerityParams reads String's form back.
func ParseVerityParams(s string) (VerityParams, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return VerityParams{}, fmt.Errorf("%q: want \"<root-hash> <salt> <data-blocks> <hash-start-block>\"", s)
	}
	var p VerityParams
	var err error
	if p.RootHash, err = hex.DecodeString(f[0]); err != nil || len(p.RootHash) != sha256.Size {
		return VerityParams{}, fmt.Errorf("root hash %q: want %d hex bytes (SHA-256)", f[0], sha256.Size)
	}
	// cryptsetup allows up to 256 bytes of salt (VERITY_MAX_SALT_SIZE).
	if p.Salt, err = hex.DecodeString(f[1]); err != nil || len(p.Salt) == 0 || len(p.Salt) > 256 {
		return VerityParams{}, fmt.Errorf("salt %q: want 1 to 256 hex bytes", f[1])
	}
	if p.DataBlocks, err = strconv.ParseUint(f[2], 10, 64); err != nil || p.DataBlocks == 0 || p.DataBlocks > 1<<40 {
		return VerityParams{}, fmt.Errorf("data blocks %q: want a positive count", f[2])
	}
	if p.HashStartBlock, err = strconv.ParseUint(f[3], 10, 64); err != nil || p.HashStartBlock <= p.DataBlocks || p.HashStartBlock > 1<<41 {
		return VerityParams{}, fmt.Errorf("hash start block %q: want a block after the %d data blocks", f[3], p.DataBlocks)
	}
	return p, nil
}

// On corruption, what the verity target does besides failing the read (verity.rst's optional
// parameters).
const (
	CorruptionEIO     = "eio"     // only the read fails (EIO), and the kernel log names the block
	CorruptionRestart = "restart" // restart_on_corruption: the machine restarts
	CorruptionPanic   = "panic"   // panic_on_corruption: the kernel panics
)

// CorruptionModes are the accepted values, the default first.
var CorruptionModes = []string{CorruptionEIO, CorruptionRestart, CorruptionPanic}

// VerityTarget is the one-line table of a verity device over dev ("major:minor") whose hash
// tree follows its data on the same device (verity.rst: <version> <dev> <hash_dev>
// <data_block_size> <hash_block_size> <num_data_blocks> <hash_start_block> <algorithm> <digest>
// <salt> [<#opt_params> <opt_params>]).
func VerityTarget(dev string, p VerityParams, onCorruption string) (Target, error) {
	var opt string
	switch onCorruption {
	case CorruptionEIO, "":
	case CorruptionRestart:
		opt = " 1 restart_on_corruption"
	case CorruptionPanic:
		opt = " 1 panic_on_corruption"
	default:
		return Target{}, fmt.Errorf("on corruption %q: want one of %s", onCorruption, strings.Join(CorruptionModes, ", "))
	}
	return Target{
		Length: p.DataBlocks * VerityBlockSize / SectorSize,
		Type:   "verity",
		Params: fmt.Sprintf("1 %s %s %d %d %d %d sha256 %x %x%s", dev, dev, VerityBlockSize, VerityBlockSize,
			p.DataBlocks, p.HashStartBlock, p.RootHash, p.Salt, opt),
	}, nil
}

// Target is one line of a device-mapper table.
type Target struct {
	Start, Length uint64 // in 512-byte sectors
	Type          string // the target type: "verity", "linear", ...
	Params        string
}
