package boot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// files runs the Dir and Symlink entries of the table (mounts need root).
func files(tb []Creator) []Creator {
	var out []Creator
	for _, c := range tb {
		if _, isMount := c.(Mount); !isMount {
			out = append(out, c)
		}
	}
	return out
}

func TestTableFiles(t *testing.T) {
	root := t.TempDir()
	tb := files(Table(root))
	for i := 0; i < 2; i++ { // idempotent
		if err := Create(tb); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if tgt, err := os.Readlink(filepath.Join(root, "dev/fd")); err != nil || tgt != "/proc/self/fd" {
		t.Errorf("dev/fd -> %q, %v", tgt, err)
	}
	for name, mode := range map[string]os.FileMode{"var/tmp": os.ModeSticky | 0o777, "root": 0o700, "run/consciousness": 0o755} {
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode()&(os.ModePerm|os.ModeSticky) != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
	}
}

func TestTableOrder(t *testing.T) {
	var mounts []string
	for _, c := range Table("/r") {
		if m, ok := c.(Mount); ok {
			mounts = append(mounts, m.Target)
			if !strings.HasPrefix(m.Target, "/r/") {
				t.Errorf("%s not under root", m)
			}
		}
	}
	// Each mount point's parent mount comes first.
	for i, m := range mounts {
		for _, later := range mounts[i+1:] {
			if strings.HasPrefix(m, later+"/") {
				t.Errorf("%s mounted before its parent %s", m, later)
			}
		}
	}
	if mounts[0] != "/r/proc" || len(mounts) != 8 {
		t.Errorf("mounts = %v", mounts)
	}
}

func TestSymlinkConflict(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "l")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Create([]Creator{Symlink{"x", p}, Dir{filepath.Join(root, "d"), 0o755}})
	var se *StepError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Step, "symlink") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "d")); err != nil {
		t.Errorf("later step skipped: %v", err)
	}
	if err := (Symlink{"y", filepath.Join(root, "ok")}).Create(); err != nil {
		t.Fatal(err)
	}
	if err := (Symlink{"z", filepath.Join(root, "ok")}).Create(); err == nil {
		t.Error("a symlink with another target was accepted")
	}
}

func TestSinceBoot(t *testing.T) {
	ns, err := SinceBoot()
	if err != nil || ns <= 0 {
		t.Errorf("SinceBoot = %d, %v", ns, err)
	}
}

func TestConsoleNoop(t *testing.T) {
	if reopened, err := Console("/nonexistent"); reopened || err != nil {
		t.Errorf("Console with open stdio = %v, %v", reopened, err)
	}
}

func TestConsoleDevice(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "sys/class/tty/console")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "active"), []byte("tty0 ttyS0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ConsoleDevice(root); err != nil || got != filepath.Join(root, "dev/ttyS0") {
		t.Errorf("ConsoleDevice = %q, %v", got, err)
	}
}
