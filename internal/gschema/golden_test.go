package gschema

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// readDir reads a schema directory as Compile takes it.
func readDir(t *testing.T, dir string) []File {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []File
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: e.Name(), Data: data})
	}
	return files
}

// gsettingsDump lists every key of every schema compiled in dir, through GLib's own reader.
func gsettingsDump(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("gsettings", "--schemadir", dir, "list-recursively")
	cmd.Env = append(os.Environ(), "GSETTINGS_BACKEND=memory", "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("gsettings --schemadir %s list-recursively: %v\n%s", dir, err, stderr.String())
	}
	return string(out)
}
