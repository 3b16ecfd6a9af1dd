// Package verity appends a dm-verity hash tree to a file: the build side of a verified layer.
//
// The layout is veritysetup's with the data and hash devices the same file (cryptsetup's
// "veritysetup format --hash-offset"): the data, zero-padded to a whole number of 4096-byte
// blocks, then the 512-byte verity superblock in a 4096-byte block of its own, then the hash tree,
// root level first (kernel Documentation/admin-guide/device-mapper/verity.rst; cryptsetup wiki
// "DMVerity"). Format version 1, SHA-256, digest = SHA-256(salt ‖ block). The tree is written by
// github.com/containerd/go-dmverity, whose output CI compares against veritysetup's.
//
// The kernel never reads the superblock: the init trusts only the parameters Append returns
// (dm.VerityParams), which the builder bakes into the initramfs (live.conf).
package verity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	dmverity "github.com/containerd/go-dmverity/pkg/verity"

	"github.com/genai-os/genai-build/initramfs/dm"
)

// BlockSize is the data and hash block size, the init's (dm.VerityBlockSize).
const BlockSize = dm.VerityBlockSize

// Labels of the deterministic salt and UUID: SHA-256(label ‖ hex content digest).
const (
	saltLabel = "genai-build verity salt v1\n"
	uuidLabel = "genai-build verity uuid v1\n"
)

// Append pads the file at path with zeros to a whole number of blocks and appends the superblock
// and hash tree. The salt and UUID derive from the file's content (its SHA-256 before padding), so
// the same content gives the same bytes.
func Append(path string) (dm.VerityParams, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return dm.VerityParams{}, err
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		f.Close()
		return dm.VerityParams{}, fmt.Errorf("%s: %w", path, err)
	}
	if size == 0 {
		f.Close()
		return dm.VerityParams{}, fmt.Errorf("%s: empty: a verity device needs at least one data block", path)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	padded := (size + BlockSize - 1) / BlockSize * BlockSize
	err = f.Truncate(padded)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return dm.VerityParams{}, fmt.Errorf("%s: padding: %w", path, err)
	}
	salt := sha256.Sum256([]byte(saltLabel + digest))
	u := sha256.Sum256([]byte(uuidLabel + digest))
	var uuid [16]byte
	copy(uuid[:], u[:])
	// RFC 9562 §5.8: version 8 (custom), variant 10.
	uuid[6] = uuid[6]&0x0f | 0x80
	uuid[8] = uuid[8]&0x3f | 0x80
	p, err := Format(path, uint64(padded/BlockSize), salt[:], uuid)
	if err != nil {
		return p, err
	}
	// The kernel counts the hash device in whole blocks and wants every block up to the end of the
	// tree (drivers/md/dm-verity-target.c: "Hash device is too small"): a one-block layer has no
	// tree levels, only the 512-byte superblock after its data, which must fill its block.
	if err := padTo(path, BlockSize); err != nil {
		return p, err
	}
	return p, nil
}

// padTo extends path with zeros to a whole number of blocks.
func padTo(path string, block int64) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if r := fi.Size() % block; r != 0 {
		if err := os.Truncate(path, fi.Size()+block-r); err != nil {
			return fmt.Errorf("%s: padding the tree: %w", path, err)
		}
	}
	return nil
}

// Format writes the superblock and tree for the first dataBlocks blocks of path right after them,
// with the given salt and UUID, and returns the parameters. Append is the builder's entry point;
// Format is what it shares with the golden test.
func Format(path string, dataBlocks uint64, salt []byte, uuid [16]byte) (dm.VerityParams, error) {
	if len(salt) > 256 {
		return dm.VerityParams{}, errors.New("salt longer than 256 bytes")
	}
	hashOffset := dataBlocks * BlockSize
	p := dmverity.DefaultParams() // sha256, format version 1
	p.DataBlockSize, p.HashBlockSize = BlockSize, BlockSize
	p.DataBlocks = dataBlocks
	p.Salt, p.SaltSize = salt, uint16(len(salt))
	p.HashAreaOffset = hashOffset
	p.UUID = uuid
	root, err := dmverity.Create(&p, path, path)
	if err != nil {
		return dm.VerityParams{}, fmt.Errorf("%s: verity hash tree: %w", path, err)
	}
	// The 512-byte superblock (cryptsetup lib/verity/verity.c, struct verity_sb) takes a whole
	// hash block: the tree starts one block after it.
	return dm.VerityParams{RootHash: root, Salt: salt, DataBlocks: dataBlocks,
		HashStartBlock: (hashOffset + BlockSize) / BlockSize}, nil
}
