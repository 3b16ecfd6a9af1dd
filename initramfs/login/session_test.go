package login

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

func TestShellArgv0(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "bbin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"usr/bin/bash", "bbin/bb"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"../../bbin/bb", "usr/bin/gosh"}, {"../bbin/bb", "bbin/gosh"}, {"bash", "usr/bin/sh"}} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ shell, want string }{
		{"/usr/bin/bash", "-bash"},
		{"/usr/bin/sh", "-sh"},
		{"/usr/bin/gosh", "gosh"}, // u-root's busybox picks its command by argv[0]
		{"/bbin/gosh", "gosh"},
		{"/usr/bin/zsh", "-zsh"}, // not there: login(1)'s convention
	} {
		if got := ShellArgv0(root, c.shell); got != c.want {
			t.Errorf("ShellArgv0(%s) = %q, want %q", c.shell, got, c.want)
		}
	}
}

func TestRuntimeDir(t *testing.T) {
	root := t.TempDir()
	a := Account{Name: "me", UID: os.Getuid(), GID: os.Getgid()}
	for range 2 { // a second login finds it made
		dir, err := RuntimeDir(root, a)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join("/run/user", strconv.Itoa(a.UID)); dir != want {
			t.Errorf("dir = %s, want %s", dir, want)
		}
		fi, err := os.Stat(filepath.Join(root, dir))
		if err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
			t.Errorf("%s: %v %v, want a folder of mode 0700", dir, fi.Mode(), err)
		}
	}
	// a file where the folder should be is refused, not followed
	b := Account{Name: "other", UID: 4242, GID: 4242}
	if err := os.WriteFile(filepath.Join(root, "run/user/4242"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RuntimeDir(root, b); err == nil {
		t.Error("a file at /run/user/4242 was taken for the runtime folder")
	}
}

func TestGroups(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	group := "root:x:0:\nvideo:x:44:genai\ninput:x:105:other,genai\ngenai:x:1000:genai\nbad\nconsciousness:x:990:genai,dev\nrender:x:106:\n"
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Groups(root, "genai", 1000)
	if err != nil || !slices.Equal(got, []uint32{1000, 44, 105, 990}) {
		t.Errorf("Groups = %v, %v; want the primary 1000, then video, input and consciousness", got, err)
	}
	if got, _ := Groups(root, "nobody", 65534); !slices.Equal(got, []uint32{65534}) {
		t.Errorf("Groups(nobody) = %v", got)
	}
}
