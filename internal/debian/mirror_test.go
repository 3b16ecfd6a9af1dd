package debian

import (
	"errors"
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
