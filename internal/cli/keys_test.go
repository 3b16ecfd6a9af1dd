package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/efivars"
	"github.com/genai-os/genai-build/internal/sbkeys"
)

func TestKeysInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	code, out, errs := runCLI(t, nil, "keys", "init", dir, "--org", "Example Corp")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Example Corp PK", "Example Corp db", "keep " + dir + " offline"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	s, err := sbkeys.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"PK", "KEK", "db"} {
		for ext, mode := range map[string]os.FileMode{".key": 0o600, ".crt": 0o644, ".auth": 0o644, ".esl": 0o644} {
			fi, err := os.Stat(filepath.Join(dir, n+ext))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("%s%s mode %v, want %v", n, ext, fi.Mode().Perm(), mode)
			}
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("DIR: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if _, err := os.Stat(defaultOVMFVars); err == nil {
		b, err := os.ReadFile(filepath.Join(dir, EnrolledVarsFile))
		if err != nil {
			t.Fatal(err)
		}
		vars, err := efivars.Variables(b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := sbkeys.ESL(s.DB.Cert)
		if v, ok := efivars.Lookup(vars, "db", efivars.ImageSecurityDB); !ok || string(v.Data) != string(want) {
			t.Errorf("%s does not hold db", EnrolledVarsFile)
		}
	} else {
		t.Logf("%s absent: the enrolled store is not checked here", defaultOVMFVars)
	}

	// An existing set is kept, unless --force.
	before, _ := os.ReadFile(filepath.Join(dir, "db.key"))
	if code, _, errs := runCLI(t, nil, "keys", "init", dir); code == 0 || !strings.Contains(errs, "already holds a key set") {
		t.Errorf("second init: exit %d, %s", code, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "db.key")); string(after) != string(before) {
		t.Error("the refused init changed db.key")
	}
	if code, _, errs := runCLI(t, nil, "keys", "init", dir, "--force"); code != 0 {
		t.Errorf("--force: exit %d, %s", code, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "db.key")); string(after) == string(before) {
		t.Error("--force kept the old db.key")
	}
}

func TestKeysInitRefusals(t *testing.T) {
	wt := t.TempDir()
	if err := os.Mkdir(filepath.Join(wt, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(wt, "sub", "keys")
	code, _, errs := runCLI(t, nil, "keys", "init", in)
	if code == 0 || !strings.Contains(errs, "inside the git work tree "+wt) || !strings.Contains(errs, "offline") {
		t.Errorf("inside a work tree: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(in); err == nil {
		t.Error("the refused init made DIR")
	}
	if code, _, errs := runCLI(t, nil, "keys", "init", in, "--in-checkout", "--ovmf-vars", filepath.Join(wt, "none.fd")); code == 0 || !strings.Contains(errs, "--ovmf-vars") {
		t.Errorf("missing --ovmf-vars: exit %d, %s", code, errs)
	}
	// A linked worktree (like this checkout's) has a .git file, not a folder.
	linked := t.TempDir()
	if err := os.WriteFile(filepath.Join(linked, ".git"), []byte("gitdir: /elsewhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, nil, "keys", "init", filepath.Join(linked, "keys")); code == 0 || !strings.Contains(errs, "git work tree") {
		t.Errorf("inside a linked worktree: exit %d, %s", code, errs)
	}
	if code, _, errs := runCLI(t, nil, "keys", "init"); code == 0 || !strings.Contains(errs, "accepts 1 arg") {
		t.Errorf("no DIR: exit %d, %s", code, errs)
	}
}
