// Package uki assembles a Unified Kernel Image (UAPI Group, "Unified Kernel Image" specification):
// systemd-stub with the kernel, initramfs, command line, os-release and uname appended as PE
// sections. It writes the whole PE file anew (the way Talos's native assembler does since
// siderolabs/talos#10102) instead of patching the stub in place, so a stub without spare header
// room is no problem. The result is unsigned; internal/pesign signs it.
//
// The rules it keeps (each a bug somebody hit):
//   - every appended section's VirtualAddress is a multiple of SectionAlignment: OVMF's image
//     memory protection asserts otherwise (kairos-io/kairos#4885);
//   - VirtualSize is the exact data length (the stub reads the section size from it);
//   - raw data is aligned to FileAlignment and zero-padded (PE/COFF specification, "Section Table");
//   - .linux is last, leaving room for the kernel to decompress (systemd#34578, ukify);
//   - the stub's own sections, .sbat among them, are kept as they are;
//   - no Security directory: the signature is appended by the signer.
package uki

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Section is one appended PE section.
type Section struct {
	Name string // ".osrel", ".cmdline", ".uname", ".initrd", ".linux", ...
	Data []byte
}

// PE/COFF constants (Microsoft PE Format specification).
const (
	scnCntInitializedData = 0x00000040 // IMAGE_SCN_CNT_INITIALIZED_DATA
	scnMemRead            = 0x40000000 // IMAGE_SCN_MEM_READ
	dirSecurity           = 4          // IMAGE_DIRECTORY_ENTRY_SECURITY
	magicPE32Plus         = 0x20b
	fileHeaderSize        = 20
	sectionHeaderSize     = 40
	optionalHeader64Size  = 240 // with 16 data directories
)

// Assemble returns stub with sections appended, in the given order, which must end with .linux.
// The COFF TimeDateStamp is sourceDate.
func Assemble(stub []byte, sections []Section, sourceDate time.Time) ([]byte, error) {
	f, err := pe.NewFile(bytes.NewReader(stub))
	if err != nil {
		return nil, fmt.Errorf("uki: stub: %w", err)
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok || oh.Magic != magicPE32Plus || f.SizeOfOptionalHeader != optionalHeader64Size || oh.NumberOfRvaAndSizes != 16 {
		return nil, errors.New("uki: stub is not a PE32+ image with 16 data directories")
	}
	if f.NumberOfSymbols != 0 || f.PointerToSymbolTable != 0 {
		return nil, errors.New("uki: stub has a COFF symbol table")
	}
	if d := oh.DataDirectory[dirSecurity]; d.Size != 0 {
		return nil, errors.New("uki: stub is signed (it has a Security directory): use the unsigned stub")
	}
	if err := checkSections(f, sections); err != nil {
		return nil, fmt.Errorf("uki: %w", err)
	}
	sa, fa := oh.SectionAlignment, oh.FileAlignment
	if sa == 0 || fa == 0 || sa&(sa-1) != 0 || fa&(fa-1) != 0 {
		return nil, fmt.Errorf("uki: stub alignments %#x/%#x", sa, fa)
	}

	type out struct {
		h    pe.SectionHeader32
		data []byte
	}
	var secs []out
	var end uint32 // the first free virtual address
	for _, s := range f.Sections {
		data, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("uki: stub section %s: %w", s.Name, err)
		}
		var h pe.SectionHeader32
		copy(h.Name[:], s.Name)
		h.VirtualSize, h.VirtualAddress, h.SizeOfRawData = s.VirtualSize, s.VirtualAddress, s.Size
		h.Characteristics = s.Characteristics
		secs = append(secs, out{h, data})
		end = max(end, s.VirtualAddress+max(s.VirtualSize, s.Size))
	}
	var added uint32
	for _, s := range sections {
		var h pe.SectionHeader32
		copy(h.Name[:], s.Name)
		h.VirtualAddress = alignUp(end, sa)
		h.VirtualSize = uint32(len(s.Data))
		h.SizeOfRawData = alignUp(uint32(len(s.Data)), fa)
		h.Characteristics = scnCntInitializedData | scnMemRead
		secs = append(secs, out{h, s.Data})
		end = h.VirtualAddress + h.VirtualSize
		added += h.SizeOfRawData
	}

	lfanew := binary.LittleEndian.Uint32(stub[0x3c:])
	headers := alignUp(lfanew+4+fileHeaderSize+optionalHeader64Size+uint32(len(secs))*sectionHeaderSize, fa)
	off := headers
	for i := range secs {
		secs[i].h.PointerToRawData = off
		off += secs[i].h.SizeOfRawData
	}
	if uint64(off) >= 1<<32 {
		return nil, errors.New("uki: image larger than 4 GiB")
	}

	fh := f.FileHeader
	fh.NumberOfSections = uint16(len(secs))
	fh.TimeDateStamp = uint32(sourceDate.Unix())
	o := *oh
	o.SizeOfHeaders = headers
	o.SizeOfImage = alignUp(end, sa)
	o.SizeOfInitializedData += added
	o.CheckSum = 0
	o.MajorLinkerVersion, o.MinorLinkerVersion = 0, 0

	buf := bytes.NewBuffer(make([]byte, 0, off))
	buf.Write(stub[:lfanew]) // the stub's DOS header and DOS program, as they are
	buf.WriteString("PE\x00\x00")
	for _, v := range []any{fh, o} {
		if err := binary.Write(buf, binary.LittleEndian, v); err != nil {
			return nil, fmt.Errorf("uki: %w", err)
		}
	}
	for _, s := range secs {
		if err := binary.Write(buf, binary.LittleEndian, s.h); err != nil {
			return nil, fmt.Errorf("uki: %w", err)
		}
	}
	b := buf.Bytes()
	b = append(b, make([]byte, int(headers)-len(b))...)
	for _, s := range secs {
		b = append(b, s.data...)
		b = append(b, make([]byte, int(s.h.SizeOfRawData)-len(s.data))...)
	}
	return b, nil
}

// checkSections refuses names PE cannot hold, duplicates (of each other or of the stub's
// sections), empty sections, and a list that does not end with .linux.
func checkSections(f *pe.File, sections []Section) error {
	if len(sections) == 0 || sections[len(sections)-1].Name != ".linux" {
		return errors.New("the sections must end with .linux (the kernel)")
	}
	seen := map[string]bool{}
	for _, s := range f.Sections {
		seen[s.Name] = true
	}
	for _, s := range sections {
		switch {
		case len(s.Name) == 0 || len(s.Name) > 8:
			return fmt.Errorf("section name %q: 1 to 8 bytes", s.Name)
		case seen[s.Name]:
			return fmt.Errorf("section %s twice (or already in the stub)", s.Name)
		case len(s.Data) == 0:
			return fmt.Errorf("section %s is empty", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

func alignUp(n, a uint32) uint32 { return (n + a - 1) &^ (a - 1) }
