// Package debtest builds Debian packages for tests (as net/http/httptest serves them): tar and
// ar(5) archives, compressed as dpkg-deb may, whole .debs (deb(5)), and the ELF kernel modules a
// kernel package holds. Only tests import it.
package debtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// File is one tar entry.
type File struct {
	Name, Body, Link string
	Type             byte  // tar type flag; 0 is a regular file
	Mode             int64 // 0: 0755 for a directory, 0644 otherwise
	UID, GID         int
	ModTime          time.Time
}

// Tar writes files as a GNU tar archive, in order.
func Tar(t testing.TB, files []File) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		typ, mode := f.Type, f.Mode
		if typ == 0 {
			typ = tar.TypeReg
		}
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Name: f.Name, Typeflag: typ, Mode: mode, Uid: f.UID, Gid: f.GID, Linkname: f.Link,
			ModTime: f.ModTime, Format: tar.FormatGNU}
		if typ == tar.TypeReg {
			h.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(f.Body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Compress compresses data as a member named with ext would be: "" (none), ".gz", ".xz", ".zst".
func Compress(t testing.TB, data []byte, ext string) []byte {
	t.Helper()
	var b bytes.Buffer
	switch ext {
	case "":
		return data
	case ".gz":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case ".xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case ".zst":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	default:
		t.Fatalf("compression %q", ext)
	}
	return b.Bytes()
}

// Member is one ar(5) archive member.
type Member struct {
	Name string
	Data []byte
}

// Ar writes an ar(5) archive the way dpkg-deb does (names with no GNU '/' suffix, even sizes).
func Ar(members ...Member) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.Name, 0, 0, 0, 0o100644, len(m.Data))
		b.Write(m.Data)
		if len(m.Data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Deb builds a .deb: debian-binary, control.tar<ctlExt> holding "./", "./control" and the extra
// control members (maintainer scripts, md5sums), and data.tar<dataExt> holding data.
func Deb(t testing.TB, control, ctlExt, dataExt string, extra, data []File) []byte {
	t.Helper()
	ctl := append([]File{{Name: "./", Type: tar.TypeDir}, {Name: "./control", Body: control}}, extra...)
	return Ar(
		Member{"debian-binary", []byte("2.0\n")},
		Member{"control.tar" + ctlExt, Compress(t, Tar(t, ctl), ctlExt)},
		Member{"data.tar" + dataExt, Compress(t, Tar(t, data), dataExt)},
	)
}

// Section is one section of an ELF object.
type Section struct {
	Name string
	Data []byte
}

// ELF writes a minimal ELF64 little-endian x86-64 relocatable object (System V ABI, ch. 4): the
// header, each section's bytes, a .shstrtab, then the section header table (null entry first).
func ELF(t testing.TB, secs ...Section) []byte {
	t.Helper()
	var body bytes.Buffer
	const ehsize = 64 // sizeof(Elf64_Ehdr)
	shstrtab := []byte{0}
	type placed struct {
		nameOff, off, size uint64
	}
	var ps []placed
	all := append(append([]Section(nil), secs...), Section{".shstrtab", nil})
	for i, s := range all {
		nameOff := uint64(len(shstrtab))
		shstrtab = append(append(shstrtab, s.Name...), 0)
		if i == len(all)-1 {
			s.Data = shstrtab
		}
		ps = append(ps, placed{nameOff, uint64(ehsize + body.Len()), uint64(len(s.Data))})
		body.Write(s.Data)
	}
	for body.Len()%8 != 0 {
		body.WriteByte(0)
	}
	shoff := uint64(ehsize + body.Len())

	var out bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: 64, Shnum: uint16(len(all) + 1), Shstrndx: uint16(len(all)),
	}
	copy(hdr.Ident[:], "\x7fELF")
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	write := func(v any) {
		if err := binary.Write(&out, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	write(hdr)
	out.Write(body.Bytes())
	write(elf.Section64{}) // SHN_UNDEF
	for i, p := range ps {
		typ := elf.SHT_PROGBITS
		if i == len(ps)-1 {
			typ = elf.SHT_STRTAB
		}
		write(elf.Section64{Name: uint32(p.nameOff), Type: uint32(typ), Off: p.off, Size: p.size, Addralign: 1})
	}
	return out.Bytes()
}

// KernelModule is a kernel module (.ko) whose .modinfo section holds kv ("name=x", "depends=y,z"),
// NUL-separated with the padding the linker leaves between aligned entries
// (include/linux/moduleparam.h, __MODULE_INFO).
func KernelModule(t testing.TB, kv ...string) []byte {
	t.Helper()
	var info bytes.Buffer
	for _, s := range kv {
		info.WriteString(s)
		info.WriteString("\x00\x00")
	}
	return ELF(t, Section{".text", []byte{0xc3}}, Section{".modinfo", info.Bytes()})
}
