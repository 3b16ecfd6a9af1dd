// Package kmod reads Linux kernel modules and kernel configurations: the .modinfo section of a
// module (name, depends=, alias=, softdep=), the load order of a set of modules, and whether a
// kernel .config satisfies our requirement fragments (kconfig/*.config).
//
// Debian ships no modules.dep (depmod runs at install time), so the dependency graph is rebuilt
// here from each module's own depends= line.
package kmod

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// MaxModuleSize bounds the decompressed size of a module; the largest in-tree modules are a few
// tens of MB (amdgpu), so anything past this is a corrupt or hostile input.
const MaxModuleSize = 256 << 20

// maxModuleSize is MaxModuleSize, lowered by the fuzz test so that decompression bombs stay quick.
var maxModuleSize = MaxModuleSize

// ModInfo is what a module's .modinfo section says about it.
type ModInfo struct {
	Name         string   // from name=; empty if the section has none (NewIndex then uses the file name)
	Depends      []string // from depends= (comma-separated), in the order written
	Aliases      []string // every alias=
	SoftDepsPre  []string // modules named after "pre:" in softdep=
	SoftDepsPost []string // modules named after "post:" in softdep=
	License      string
	Vermagic     string
}

// Magic numbers of the containers a module file may come in.
var (
	elfMagic  = []byte("\x7fELF")          // ELF spec, e_ident[EI_MAG0..3]
	xzMagic   = []byte("\xfd7zXZ\x00")     // xz file format 1.0.4, 2.1.1.1 Header Magic Bytes
	zstdMagic = []byte("\x28\xb5\x2f\xfd") // RFC 8878, 3.1.1 Magic_Number (LE 0xFD2FB528)
	gzipMagic = []byte("\x1f\x8b")         // RFC 1952, 2.3.1 ID1 ID2
)

// Decompress returns the ELF image of a module file: data itself for a plain .ko, or the
// decompressed content of a .ko.xz, .ko.zst or .ko.gz (recognised by magic, not by name).
func Decompress(data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(data, elfMagic):
		return data, nil
	case bytes.HasPrefix(data, xzMagic):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		r = xr
	case bytes.HasPrefix(data, zstdMagic):
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(maxModuleSize)))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(data, gzipMagic):
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		r = gr
	default:
		return nil, errors.New("not an ELF object, nor xz, zstd or gzip")
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(maxModuleSize)+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if len(out) > maxModuleSize {
		return nil, fmt.Errorf("decompressed module is larger than %d bytes", maxModuleSize)
	}
	if !bytes.HasPrefix(out, elfMagic) {
		return nil, errors.New("decompressed content is not an ELF object")
	}
	return out, nil
}

// ReadModInfo parses the .modinfo section of a module file (.ko, .ko.xz, .ko.zst or .ko.gz).
func ReadModInfo(data []byte) (ModInfo, error) {
	obj, err := Decompress(data)
	if err != nil {
		return ModInfo{}, err
	}
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return ModInfo{}, fmt.Errorf("reading ELF: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return ModInfo{}, errors.New("no .modinfo section: not a kernel module")
	}
	if sec.Type == elf.SHT_NOBITS {
		return ModInfo{}, errors.New(".modinfo section has no content")
	}
	raw, err := sec.Data()
	if err != nil {
		return ModInfo{}, fmt.Errorf("reading .modinfo: %w", err)
	}
	return parseModInfo(raw), nil
}

// parseModInfo reads the NUL-separated key=value strings of .modinfo (include/linux/moduleparam.h,
// __MODULE_INFO). Padding between entries shows up as empty strings.
func parseModInfo(raw []byte) ModInfo {
	var mi ModInfo
	for _, kv := range strings.Split(string(raw), "\x00") {
		if kv == "" {
			continue
		}
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue // not ours to judge; modinfo(8) skips these too
		}
		switch key {
		case "name":
			mi.Name = val
		case "depends":
			for _, d := range strings.Split(val, ",") {
				if d = strings.TrimSpace(d); d != "" {
					mi.Depends = append(mi.Depends, d)
				}
			}
		case "alias":
			mi.Aliases = append(mi.Aliases, val)
		case "softdep":
			pre, post := parseSoftdep(val)
			mi.SoftDepsPre = append(mi.SoftDepsPre, pre...)
			mi.SoftDepsPost = append(mi.SoftDepsPost, post...)
		case "license":
			mi.License = val
		case "vermagic":
			mi.Vermagic = val
		}
	}
	return mi
}

// parseSoftdep reads "pre: a b post: c" (MODULE_SOFTDEP, include/linux/module.h; the syntax of
// modprobe.d(5) softdep). Either part may be missing or come twice; names before either marker
// are ignored, as libkmod does.
func parseSoftdep(val string) (pre, post []string) {
	var cur *[]string
	for _, tok := range strings.Fields(val) {
		switch tok {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = append(*cur, tok)
			}
		}
	}
	return pre, post
}

// NameFromPath is the module name the kernel derives from a module's file name (KBUILD_MODNAME):
// the base name without .ko and its compression suffix, with '-' written as '_'.
// "kernel/drivers/usb/storage/usb-storage.ko.xz" gives "usb_storage".
func NameFromPath(p string) string {
	base := path.Base(p)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		base = strings.TrimSuffix(base, ext)
	}
	return Canonical(strings.TrimSuffix(base, ".ko"))
}

// Canonical is the form in which module names compare: the kernel treats '-' and '_' as the same
// character in module names (kernel/params.c, parameqn; kmod's modname_normalize).
func Canonical(name string) string { return strings.ReplaceAll(name, "-", "_") }
