package dashboard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/initramfs/svc"
)

// tree writes files under a fresh root: a value starting "->" makes a symlink to the rest (as
// /proc/PID/fd/N -> socket:[INODE]), one ending "/" with no content a folder.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, v := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		case strings.HasPrefix(v, "->"):
			err = os.Symlink(strings.TrimPrefix(v, "->"), full)
		default:
			err = os.WriteFile(full, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// with returns files with more added (later wins).
func with(files map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func fixture(t *testing.T, files map[string]string, units ...svc.Status) *System {
	s := &System{Root: tree(t, files), Privileged: true}
	if units != nil {
		s.Units = func() ([]svc.Status, error) { return units, nil }
	}
	return s
}

// only finds the finding of check in fs.
func only(t *testing.T, fs []Finding, check string) Finding {
	t.Helper()
	for _, f := range fs {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("no finding %q in %+v", check, fs)
	return Finding{}
}
