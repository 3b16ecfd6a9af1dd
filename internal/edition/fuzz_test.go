package edition

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadFile feeds arbitrary bytes to the manifest decoder: it must return an edition or an error
// with the file's name, never panic.
func FuzzReadFile(f *testing.F) {
	f.Add([]byte(goodBase))
	f.Add([]byte("name: server\nextends: base\nkernel:\n  modules: [a, b]\nboot:\n  level: 0.5\n"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("remove: {modules: [x]}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "e.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p)
		if err == nil && got.ed.Source != p {
			t.Fatalf("source = %q", got.ed.Source)
		}
	})
}
