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

// FuzzParseLock: a lock that parses is checked (every package in a locked suite, each suite in
// its archive) and survives Marshal and ParseLock unchanged.
func FuzzParseLock(f *testing.F) {
	s := sha(nil)
	f.Add(`{"suite":"trixie","architecture":"amd64","components":["main"],"suites":[{"name":"trixie-security","archive":"debian-security",` +
		`"release":{"path":"dists/trixie-security/InRelease","sha256":"` + s + `","date":"2026-11-28T02:53:01Z"},` +
		`"index":{"path":"dists/trixie-security/main/binary-amd64/Packages.xz","size":1,"sha256":"` + s + `"}}],` +
		`"packages":[{"name":"a","version":"1","architecture":"all","suite":"trixie-security","filename":"pool/a.deb","sha256":"` + s + `","source":"a","size":1}],` +
		`"sets":{"x":["a"]},"recipes":{"x":"` + s + `"}}`)
	f.Add(`{"suite":"trixie","architecture":"amd64","suites":[{"name":"../x","archive":"debian"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ParseLock([]byte(in))
		if err != nil {
			return
		}
		for _, p := range l.Packages {
			if _, ok := l.SuiteEntry(p.Suite); !ok {
				t.Fatalf("package %s from unlocked suite %q accepted", p.Name, p.Suite)
			}
		}
		for _, st := range l.Suites {
			if st.Archive != ArchiveOf(st.Name) {
				t.Fatalf("suite %s in archive %s accepted", st.Name, st.Archive)
			}
		}
		data, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseLock(data)
		if err != nil {
			t.Fatalf("marshalled lock does not parse: %v\n%s", err, data)
		}
		again, _ := back.Marshal()
		if !bytes.Equal(data, again) {
			t.Fatalf("not stable:\n%s\n%s", data, again)
		}
	})
}

// FuzzAptSources: the readers of apt's sources files return an http(s) URI or nothing, for the
// main archive and for the security one.
func FuzzAptSources(f *testing.F) {
	f.Add("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://m.example.org/debian-security trixie-security main\n")
	f.Add("Types: deb\nURIs: http://m.example.org/debian-security\nSuites: bookworm-security\nComponents: main\n")
	f.Add("deb [ trusted=yes ] http://m.example.org/debian trixie main\n")
	f.Fuzz(func(t *testing.T, in string) {
		for _, match := range []entryMatch{debianEntry, securityEntry} {
			for _, uri := range []string{fromOneLineSources(in, match), fromDeb822Sources(in, match)} {
				if uri != "" && !strings.HasPrefix(uri, "http://") && !strings.HasPrefix(uri, "https://") {
					t.Fatalf("uri %q", uri)
				}
			}
		}
	})
}
