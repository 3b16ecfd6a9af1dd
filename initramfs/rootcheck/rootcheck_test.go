package rootcheck

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var sample = Manifest{Edition: "server", MemoryMinMB: 184, Segments: []Segment{
	{Name: "kernel-modules", Entries: 120, Kind: "file", Size: 5, Path: "usr/lib/modules/6.12/z.ko.xz"},
	{Name: "uroot", Entries: 3, Kind: "symlink", Path: "usr/bin/with space"},
	{Name: "system", Entries: 40, Kind: "dir", Path: "var/log"},
}}

func TestRoundTrip(t *testing.T) {
	got, err := Parse(bytes.NewReader(sample.Marshal()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sample) {
		t.Errorf("Parse(Marshal(m)) = %+v, want %+v", got, sample)
	}
}

func TestParseRefuses(t *testing.T) {
	good := string(sample.Marshal())
	for name, c := range map[string]struct {
		in        string
		truncated bool
	}{
		"empty":              {"", true},
		"cut before the end": {good[:strings.Index(good, "end ")], true},
		"cut mid-line":       {good[:strings.Index(good, "segment uroot")+12], true},
		"end count wrong":    {strings.Replace(good, "end 3", "end 2", 1), true},
		"other header":       {strings.Replace(good, "genai-root-manifest 1", "genai-root-manifest 2", 1), false},
		"absolute marker":    {strings.Replace(good, " var/log", " /var/log", 1), false},
		"dot-dot marker":     {strings.Replace(good, " var/log", " var/../log", 1), false},
		"unknown kind":       {strings.Replace(good, " dir ", " fifo ", 1), false},
		"unknown key":        {strings.Replace(good, "edition server", "editon server", 1), false},
		"negative size":      {strings.Replace(good, "file 5", "file -5", 1), false},
		"text after end":     {good + "segment x 1 dir 0 x\n", false},
		"no edition":         {strings.Replace(good, "edition server\n", "", 1), false},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", c.in)
			}
			if errors.Is(err, ErrTruncated) != c.truncated {
				t.Errorf("err = %v, ErrTruncated want %v", err, c.truncated)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib/modules/6.12"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/lib/modules/6.12/z.ko.xz"), []byte("12345"), 0o644))
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.Symlink("bb", filepath.Join(root, "usr/bin/with space")))
	must(os.MkdirAll(filepath.Join(root, "var/log"), 0o755))
	if got := Check(root, sample); len(got) != 0 {
		t.Fatalf("whole root: missing %+v", got)
	}
	// A cut during the system segment: its marker absent; a file cut short.
	must(os.Remove(filepath.Join(root, "var/log")))
	must(os.WriteFile(filepath.Join(root, "usr/lib/modules/6.12/z.ko.xz"), []byte("12"), 0o644))
	got := Check(root, sample)
	if Names(got) != "kernel-modules,system" {
		t.Fatalf("missing %q, want kernel-modules,system: %+v", Names(got), got)
	}
	if got[0].Why != "/usr/lib/modules/6.12/z.ko.xz has 2 of its 5 bytes" || got[1].Why != "/var/log missing" {
		t.Errorf("reasons %q, %q", got[0].Why, got[1].Why)
	}
	// The right path, the wrong kind.
	must(os.WriteFile(filepath.Join(root, "var/log"), nil, 0o644))
	if got := Check(root, sample); got[len(got)-1].Why != "/var/log is not a dir" {
		t.Errorf("a file for a dir: %+v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(string(sample.Marshal()))
	f.Add("genai-root-manifest 1\nedition e\nend 0\n")
	f.Add("genai-root-manifest 1\nsegment a 1 file 2 x y\nend 1\n")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		// What parses writes back to something that parses to the same.
		again, err := Parse(bytes.NewReader(m.Marshal()))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", in, again, err, m)
		}
	})
}
