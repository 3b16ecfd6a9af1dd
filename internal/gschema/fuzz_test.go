package gschema

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/genai-os/genai-build/internal/gvdb"
)

// FuzzCompile: no schema or override file makes the compiler panic; every failure is an *Error
// naming the file; and what compiles reads back through the GVDB reader.
func FuzzCompile(f *testing.F) {
	for _, dir := range []string{"testdata/features", "testdata/debian"} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			if len(data) < 8000 {
				f.Add(data, []byte("[org.example.all]\noverridden='x'\n"))
			}
		}
	}
	f.Fuzz(func(t *testing.T, schema, override []byte) {
		out, ok, err := Compile([]File{{Name: "f.gschema.xml", Data: schema}, {Name: "f.gschema.override", Data: override}})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File == "" {
				t.Fatalf("error %v is not an *Error naming the file", err)
			}
			return
		}
		if !ok {
			t.Fatal("a schema file compiled to nothing")
		}
		r, err := gvdb.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		names, err := r.Names()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n == "" {
				continue
			}
			if _, err := r.Table(n); err != nil {
				t.Fatalf("schema %q: %v", n, err)
			}
		}
	})
}
