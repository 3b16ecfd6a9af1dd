package debian

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResolveMirror(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	root := func(name string) string { return filepath.Join("testdata", "apt", name) }
	for _, tc := range []struct {
		name, flag string
		env        map[string]string
		root       string
		want       Mirror
		wantErr    bool
	}{
		{name: "flag wins", flag: "http://flag.example.org/debian/", env: map[string]string{MirrorEnv: "http://env.example.org/debian"},
			root: root("oneline"), want: Mirror{"http://flag.example.org/debian", "--mirror"}},
		{name: "env", env: map[string]string{MirrorEnv: "https://env.example.org/debian"}, root: root("oneline"),
			want: Mirror{"https://env.example.org/debian", MirrorEnv}},
		{name: "bad flag", flag: "mirror.example.org/debian", wantErr: true},
		{name: "bad env", env: map[string]string{MirrorEnv: "ftp://x.example.org/debian"}, wantErr: true},
		{name: "one-line", root: root("oneline"),
			want: Mirror{"http://mirror.example.org/debian", filepath.Join(root("oneline"), "etc/apt/sources.list")}},
		{name: "options and signed-by", root: root("options"),
			want: Mirror{"https://mirror.example.org/pub/linux/distro", filepath.Join(root("options"), "etc/apt/sources.list")}},
		{name: "deb822", root: root("deb822"),
			want: Mirror{"http://mirror.example.org/debian", filepath.Join(root("deb822"), "etc/apt/sources.list.d/debian.sources")}},
		{name: "signed-by in list options", root: root("keyring"),
			want: Mirror{"http://mirror.example.org/ftp", filepath.Join(root("keyring"), "etc/apt/sources.list.d/a.list")}},
		{name: "foreign repos only", root: root("foreign"), wantErr: true},
		{name: "empty", root: root("empty"), wantErr: true},
		{name: "no apt at all", root: root("missing"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveMirror(tc.flag, env(tc.env), tc.root)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	_, err := ResolveMirror("", env(nil), root("foreign"))
	if !errors.Is(err, ErrNoMirror) {
		t.Errorf("err = %v, want ErrNoMirror", err)
	}
}

// The security archive is its own entry in apt's sources: only a *-security suite's URI counts,
// and the main mirror is never taken from it.
func TestResolveSecurityMirror(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	apt := func(t *testing.T, name, text string) string {
		root := t.TempDir()
		dir := filepath.Join(root, "etc/apt/sources.list.d")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	deb822 := "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
		"Types: deb\nURIs: http://security.example.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	oneLine := "deb http://mirror.example.org/debian trixie main\ndeb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example.org/security/ trixie-security main\n"
	for _, tc := range []struct {
		name, flag string
		env        map[string]string
		root       func(t *testing.T) string
		want       string
		wantErr    error
	}{
		{name: "deb822", root: func(t *testing.T) string { return apt(t, "debian.sources", deb822) }, want: "http://security.example.org/debian-security"},
		{name: "one-line, signed-by", root: func(t *testing.T) string { return apt(t, "a.list", oneLine) }, want: "http://mirror.example.org/security"},
		{name: "flag", flag: "https://flag.example.org/debian-security/", root: func(t *testing.T) string { return apt(t, "debian.sources", deb822) }, want: "https://flag.example.org/debian-security"},
		{name: "env", env: map[string]string{SecurityMirrorEnv: "http://env.example.org/ds"}, root: func(t *testing.T) string { return "" }, want: "http://env.example.org/ds"},
		{name: "main archive only", root: func(t *testing.T) string {
			return apt(t, "a.list", "deb http://mirror.example.org/debian trixie main\n")
		}, wantErr: ErrNoSecurityMirror},
		{name: "not http", flag: "mirror.example.org", root: func(t *testing.T) string { return "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root(t)
			got, err := ResolveSecurityMirror(tc.flag, env(tc.env), root)
			if tc.want == "" {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("got %+v, %v; want an error", got, err)
				}
				return
			}
			if err != nil || got.URL != tc.want {
				t.Fatalf("got %+v, %v; want %s", got, err, tc.want)
			}
			if root != "" && tc.flag == "" && tc.env == nil {
				// The main mirror, from the same files, is never the security entry.
				m, err := ResolveMirror("", env(nil), root)
				if err != nil || m.URL != "http://mirror.example.org/debian" {
					t.Errorf("main mirror: %+v, %v", m, err)
				}
			}
		})
	}
}
