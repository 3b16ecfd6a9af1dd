package debian

import (
	"archive/tar"
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseControl(f *testing.F) {
	f.Add(packagesText)
	f.Add("A: 1\n b\n\n#c\nB:\n")
	f.Add(" x\n")
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := ParseControl(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		for _, p := range ps {
			if len(p.Fields) == 0 {
				t.Fatal("empty paragraph")
			}
			for _, fl := range p.Fields {
				if fl.Name == "" || strings.ContainsAny(fl.Name, ":\n \t") {
					t.Fatalf("bad field name %q", fl.Name)
				}
				if got, _ := p.Lookup(fl.Name); got != fl.Value {
					t.Fatalf("Lookup(%q) = %q, want %q", fl.Name, got, fl.Value)
				}
			}
		}
	})
}

func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][2]string{{"1.0~rc1", "1.0"}, {"1:2.3-4", "2.3-4+b1"}, {"00:01", "1"}, {"a-b-c", "a-b"}, {"~~", "~"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("Compare(%q,%q)=%d, Compare(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		if CompareVersions(a, a) != 0 {
			t.Fatalf("Compare(%q,%q) != 0", a, a)
		}
	})
}

func FuzzParseRelations(f *testing.F) {
	f.Add("libc6 (>= 2.34), foo:any | bar (<< 3) [amd64 !i386], qux [linux-any] <!nocheck> <stage1 cross>")
	f.Add("a (> 1)")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := ParseRelations(in)
		if err != nil {
			return
		}
		// Whatever parses must write back to text that parses to the same relations.
		var groups []string
		for _, g := range rs {
			var alts []string
			for _, r := range g {
				alts = append(alts, r.String())
			}
			groups = append(groups, strings.Join(alts, " | "))
		}
		again, err := ParseRelations(strings.Join(groups, ", "))
		if err != nil {
			t.Fatalf("reparse of %q: %v", strings.Join(groups, ", "), err)
		}
		if !reflect.DeepEqual(rs, again) {
			t.Fatalf("round trip: %+v != %+v", rs, again)
		}
	})
}

func FuzzReadAr(f *testing.F) {
	f.Add(makeAr([]arEntry{{"debian-binary", []byte("2.0\n")}, {"control.tar", []byte("odd")}}))
	f.Add([]byte(arMagic))
	f.Add([]byte("!<arch>\nshort"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := readAr(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Offset < 0 || m.Size < 0 || m.Offset+m.Size > int64(len(data)) {
				t.Fatalf("member %+v outside %d bytes", m, len(data))
			}
		}
		// A reader over anything must fail cleanly, never panic.
		if d, err := ReadDeb(bytes.NewReader(data), int64(len(data))); err == nil {
			_ = d.WalkData(func(*tar.Header, io.Reader) error { return nil })
		}
	})
}
