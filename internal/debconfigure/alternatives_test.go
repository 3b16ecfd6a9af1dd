package debconfigure

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/genai-os/genai-build/internal/fstree"
)

func words(t *testing.T, line string) []Word {
	t.Helper()
	s, err := ParseScript(line)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Commands {
		if c.Name() == "update-alternatives" {
			return c.Words
		}
	}
	t.Fatalf("%q: no update-alternatives command in %+v", line, s.Commands)
	return nil
}

func TestParseUpdateAlternatives(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    *Install
		wantErr bool
	}{
		{line: "update-alternatives --install /usr/bin/cc cc /usr/bin/gcc 20",
			want: &Install{Link: "/usr/bin/cc", Name: "cc", Path: "/usr/bin/gcc", Priority: 20}},
		{line: "update-alternatives --quiet \\\n    --install /usr/bin/c89 c89 /usr/bin/c89-gcc 20 \\\n    --slave /usr/share/man/man1/c89.1.gz c89.1.gz /usr/share/man/man1/c89-gcc.1.gz",
			want: &Install{Link: "/usr/bin/c89", Name: "c89", Path: "/usr/bin/c89-gcc", Priority: 20,
				Slaves: []Slave{{"/usr/share/man/man1/c89.1.gz", "c89.1.gz", "/usr/share/man/man1/c89-gcc.1.gz"}}}},
		{line: `update-alternatives --install "/usr/bin/pager" 'pager' /usr/bin/less -5`,
			want: &Install{Link: "/usr/bin/pager", Name: "pager", Path: "/usr/bin/less", Priority: -5}},
		{line: "update-alternatives --remove rcp /usr/bin/scp", want: nil},
		{line: "update-alternatives --install /usr/bin/x x $TARGET 10", wantErr: true},
		{line: "update-alternatives --install /usr/bin/x x /usr/bin/$(uname) 10", wantErr: true},
		{line: `update-alternatives --install /usr/bin/x x "/usr/bin/${y}" 10`, wantErr: true},
		{line: "update-alternatives --install /usr/bin/x x /usr/bin/y ten", wantErr: true},
		{line: "update-alternatives --install /usr/bin/x x /usr/bin/y 99999999999", wantErr: true},
		{line: "update-alternatives --install /usr/bin/x x/y /usr/bin/y 1", wantErr: true},
		{line: "update-alternatives --install usr/bin/x x /usr/bin/y 1", wantErr: true},
		{line: "update-alternatives --install /usr/bin/x x /usr/bin/y", wantErr: true},
		{line: "update-alternatives --slave /a a /b", wantErr: true},
		{line: "update-alternatives --set editor /bin/nano", wantErr: true},
		{line: "update-alternatives --config editor", wantErr: true},
	} {
		got, err := ParseUpdateAlternatives(words(t, tc.line))
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error, got %+v", tc.line, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if (got == nil) != (tc.want == nil) || got != nil && !equalInstall(*got, *tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

func equalInstall(a, b Install) bool {
	if a.Link != b.Link || a.Name != b.Name || a.Path != b.Path || a.Priority != b.Priority || len(a.Slaves) != len(b.Slaves) {
		return false
	}
	for i := range a.Slaves {
		if a.Slaves[i] != b.Slaves[i] {
			return false
		}
	}
	return true
}

// goldenInstalls are three choices of one group, given in an order that is not dpkg's, with a
// slave that one choice lacks.
var goldenInstalls = []Install{
	{Link: "/usr/bin/editor", Name: "editor", Path: "/usr/bin/vim.tiny", Priority: 15,
		Slaves: []Slave{{"/usr/share/man/man1/editor.1.gz", "editor.1.gz", "/usr/share/man/man1/vim.1.gz"}}},
	{Link: "/usr/bin/editor", Name: "editor", Path: "/bin/nano", Priority: 40,
		Slaves: []Slave{{"/usr/share/man/man1/editor.1.gz", "editor.1.gz", "/usr/share/man/man1/nano.1.gz"},
			{"/usr/share/man/fr/man1/editor.1.gz", "editor.fr.1.gz", "/usr/share/man/fr/man1/nano.1.gz"}}},
	{Link: "/usr/bin/editor", Name: "editor", Path: "/bin/ed", Priority: -100},
}

// TestAdminFileGolden compares our /var/lib/dpkg/alternatives/editor with testdata and with the
// file the host's update-alternatives writes for the same --install calls in a scratch root (not
// the host's own alternatives: --admindir, --altdir and --instdir point into a temporary folder).
func TestAdminFileGolden(t *testing.T) {
	groups, err := Group(goldenInstalls)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Best != "/bin/nano" {
		t.Fatalf("groups %+v, want one with /bin/nano chosen", groups)
	}
	got := groups[0].AdminFile()
	want, err := os.ReadFile("testdata/alternatives/editor")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("admin file:\n%s\nwant (testdata):\n%s", got, want)
	}
	ua, err := exec.LookPath("update-alternatives")
	if err != nil {
		t.Skipf("no update-alternatives on this host to compare with: %v", err)
	}
	root := t.TempDir()
	admin, alt, log := filepath.Join(root, "admin"), filepath.Join(root, "etc/alternatives"), filepath.Join(root, "log")
	for _, d := range []string{admin, alt, "usr/bin", "bin", "usr/share/man/man1", "usr/share/man/fr/man1"} {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range goldenInstalls {
		for _, f := range append([]string{in.Path}, slaveTargets(in)...) {
			if err := os.WriteFile(filepath.Join(root, f), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, in := range goldenInstalls {
		args := []string{"--root", root, "--admindir", admin, "--altdir", alt, "--log", log, "--quiet",
			"--install", in.Link, in.Name, in.Path, strconv.Itoa(in.Priority)}
		for _, s := range in.Slaves {
			args = append(args, "--slave", s.Link, s.Name, s.Path)
		}
		if out, err := exec.Command(ua, args...).CombinedOutput(); err != nil {
			t.Fatalf("update-alternatives %v: %v\n%s", args, err, out)
		}
	}
	real, err := os.ReadFile(filepath.Join(admin, "editor"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(real) {
		t.Errorf("admin file:\n%q\nupdate-alternatives wrote:\n%q", got, real)
	}
	if l, err := os.Readlink(filepath.Join(alt, "editor")); err != nil || l != "/bin/nano" {
		t.Errorf("update-alternatives chose %q (%v), we chose /bin/nano", l, err)
	}
}

func slaveTargets(in Install) []string {
	var out []string
	for _, s := range in.Slaves {
		out = append(out, s.Path)
	}
	return out
}

// TestWriteAlternative checks the links in a tree: through the usr-merge (/bin/nano is
// usr/bin/nano), the slave whose file is missing left out.
func TestWriteAlternative(t *testing.T) {
	tree := fstree.New()
	for _, e := range []fstree.Entry{
		{Path: "bin", Kind: fstree.Symlink, Target: "usr/bin"},
		{Path: "usr/bin/nano", Kind: fstree.File, Mode: 0o755},
		{Path: "usr/bin/vim.tiny", Kind: fstree.File, Mode: 0o755},
		{Path: "usr/share/man/man1/nano.1.gz", Kind: fstree.File, Mode: 0o644},
	} {
		if err := tree.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	groups, err := Group(goldenInstalls[:2])
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAlternative(tree, groups[0], "test"); err != nil {
		t.Fatal(err)
	}
	for p, target := range map[string]string{
		"usr/bin/editor":                 "/etc/alternatives/editor",
		"etc/alternatives/editor":        "/bin/nano",
		"usr/share/man/man1/editor.1.gz": "/etc/alternatives/editor.1.gz",
		"etc/alternatives/editor.1.gz":   "/usr/share/man/man1/nano.1.gz",
	} {
		if e, ok := tree.Get(p); !ok || e.Kind != fstree.Symlink || e.Target != target {
			t.Errorf("%s: %+v, want a link to %s", p, e, target)
		}
	}
	if _, ok := tree.Get("etc/alternatives/editor.fr.1.gz"); ok {
		t.Error("a slave whose file is missing was linked")
	}
	if _, ok := tree.Get("var/lib/dpkg/alternatives/editor"); !ok {
		t.Error("no admin file")
	}
}
