package debconfigure

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseScript feeds maintainer scripts (outside input, from the archive) to the parser and
// to the update-alternatives and classification steps after it: none may panic or loop.
func FuzzParseScript(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/scripts/*")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Add("case \"$1\" in configure) update-alternatives --install /a a /b 1 ;; esac")
	f.Add("x=$(a \"$(b 'c')\" `d`) ; cat <<-E\n\tE\n")
	f.Fuzz(func(t *testing.T, src string) {
		s, err := ParseScript(src)
		if err != nil {
			return
		}
		for _, c := range s.Commands {
			if c.Name() == "update-alternatives" {
				_, _ = ParseUpdateAlternatives(c.Words)
			}
		}
		_, _ = Classify([]Package{{Name: "p", Control: map[string][]byte{"postinst": []byte(src)}}}, func(string) bool { return true }, nil)
	})
}

// FuzzParseTriggers feeds triggers control files to their parser.
func FuzzParseTriggers(f *testing.F) {
	f.Add("interest-noawait /usr/lib/x86_64-linux-gnu/gio/modules\nactivate-noawait ldconfig\n# c\n")
	f.Fuzz(func(t *testing.T, src string) {
		ts, err := ParseTriggers(src)
		if err != nil {
			return
		}
		for _, tr := range ts {
			if tr.Name == "" {
				t.Fatalf("empty trigger name from %q", src)
			}
		}
	})
}

// FuzzSubjectHash feeds certificates (outside input: the package's and an overlay's) to the
// subject hash.
func FuzzSubjectHash(f *testing.F) {
	f.Add([]byte(testCertPEM))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = SubjectHash(b)
	})
}
