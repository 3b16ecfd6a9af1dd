package gschema

import "testing"

// BenchmarkCompileDebian compiles the real trixie schemas of testdata/debian.
func BenchmarkCompileDebian(b *testing.B) {
	files := readDir(b, "testdata/debian")
	for b.Loop() {
		if _, _, err := Compile(files); err != nil {
			b.Fatal(err)
		}
	}
}
