package uki_test

import (
	"bytes"
	"debug/pe"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/uki"
	"github.com/genai-os/genai-build/internal/uki/ukitest"
)

var sourceDate = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// testSections has lengths that are multiples of nothing in particular.
func testSections() []uki.Section {
	return []uki.Section{
		{Name: ".osrel", Data: []byte("ID=genai\nNAME=\"GenAI OS\"\n")},
		{Name: ".cmdline", Data: []byte("console=ttyS0,115200")},
		{Name: ".uname", Data: []byte("6.12.117+deb13-amd64")},
		{Name: ".initrd", Data: bytes.Repeat([]byte{0x5a}, 70001)},
		{Name: ".linux", Data: bytes.Repeat([]byte{0xa5}, 123457)},
	}
}

func TestAssembleInvariants(t *testing.T) {
	stub := ukitest.Stub(t)
	sf, err := pe.NewFile(bytes.NewReader(stub))
	if err != nil {
		t.Fatal(err)
	}
	b, err := uki.Assemble(stub, testSections(), sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	oh := f.OptionalHeader.(*pe.OptionalHeader64)
	sa, fa := oh.SectionAlignment, oh.FileAlignment
	if f.TimeDateStamp != uint32(sourceDate.Unix()) {
		t.Errorf("TimeDateStamp %d", f.TimeDateStamp)
	}
	if d := oh.DataDirectory[4]; d.Size != 0 || d.VirtualAddress != 0 {
		t.Errorf("Security directory %+v", d)
	}
	soh := sf.OptionalHeader.(*pe.OptionalHeader64)
	if oh.AddressOfEntryPoint != soh.AddressOfEntryPoint || oh.DataDirectory != soh.DataDirectory || oh.ImageBase != soh.ImageBase {
		t.Error("entry point, image base or data directories changed")
	}
	if oh.SizeOfHeaders%fa != 0 || f.Sections[0].Offset < oh.SizeOfHeaders {
		t.Errorf("SizeOfHeaders %#x, first section at %#x", oh.SizeOfHeaders, f.Sections[0].Offset)
	}
	want := append([]uki.Section{}, testSections()...)
	nStub := len(sf.Sections)
	if len(f.Sections) != nStub+len(want) {
		t.Fatalf("%d sections, want %d", len(f.Sections), nStub+len(want))
	}
	var vend, fend uint32
	for i, s := range f.Sections {
		if s.VirtualAddress%sa != 0 {
			t.Errorf("%s: VirtualAddress %#x not aligned to %#x", s.Name, s.VirtualAddress, sa)
		}
		if s.Offset%fa != 0 || s.Size%fa != 0 {
			t.Errorf("%s: raw data %#x+%#x not aligned to %#x", s.Name, s.Offset, s.Size, fa)
		}
		if s.VirtualAddress < vend || s.Offset < fend {
			t.Errorf("%s overlaps the section before it", s.Name)
		}
		vend, fend = s.VirtualAddress+max(s.VirtualSize, s.Size), s.Offset+s.Size
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		if i < nStub {
			ss := sf.Sections[i]
			sd, _ := ss.Data()
			if s.Name != ss.Name || s.VirtualAddress != ss.VirtualAddress || s.VirtualSize != ss.VirtualSize || !bytes.Equal(data, sd) {
				t.Errorf("stub section %s changed", ss.Name)
			}
			continue
		}
		w := want[i-nStub]
		if s.Name != w.Name || s.VirtualSize != uint32(len(w.Data)) || !bytes.Equal(data[:s.VirtualSize], w.Data) ||
			!bytes.Equal(data[s.VirtualSize:], make([]byte, len(data)-int(s.VirtualSize))) {
			t.Errorf("section %s: VirtualSize %d, want %s with %d bytes, zero-padded", s.Name, s.VirtualSize, w.Name, len(w.Data))
		}
		if s.Characteristics != 0x40000040 {
			t.Errorf("%s characteristics %#x", s.Name, s.Characteristics)
		}
	}
	last := f.Sections[len(f.Sections)-1]
	if last.Name != ".linux" {
		t.Errorf("last section %s", last.Name)
	}
	if oh.SizeOfImage != (last.VirtualAddress+last.VirtualSize+sa-1)&^(sa-1) {
		t.Errorf("SizeOfImage %#x does not end at the last section", oh.SizeOfImage)
	}
	if int(fend) != len(b) {
		t.Errorf("file %d bytes, sections end at %d", len(b), fend)
	}
	if f.Section(".sbat") == nil {
		t.Error(".sbat dropped")
	}
	again, err := uki.Assemble(stub, testSections(), sourceDate)
	if err != nil || !bytes.Equal(again, b) {
		t.Error("two assemblies differ")
	}
}

func TestAssembleErrors(t *testing.T) {
	stub := ukitest.Stub(t)
	s := testSections()
	for _, c := range []struct {
		name     string
		stub     []byte
		sections []uki.Section
		want     string
	}{
		{"linux not last", stub, append(s[1:], s[0]), "must end with .linux"},
		{"no sections", stub, nil, "must end with .linux"},
		{"duplicate", stub, append([]uki.Section{s[1]}, s...), ".cmdline twice"},
		{"stub's own", stub, append([]uki.Section{{Name: ".sbat", Data: []byte("x")}}, s...), ".sbat twice"},
		{"long name", stub, append([]uki.Section{{Name: ".toolongname", Data: []byte("x")}}, s...), "1 to 8 bytes"},
		{"empty", stub, append([]uki.Section{{Name: ".splash", Data: nil}}, s...), ".splash is empty"},
		{"not PE", []byte("MZ nothing"), s, "stub"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := uki.Assemble(c.stub, c.sections, sourceDate)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Assemble: %v, want %q", err, c.want)
			}
		})
	}
}
