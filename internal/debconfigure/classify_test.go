package debconfigure

import (
	"errors"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/fstree"
)

func TestParseScript(t *testing.T) {
	src := `#!/bin/sh
set -e
# a comment: rm -rf /
f() {
	chmod 644 "$1"
}
case "$1" in
    configure)
        update-alternatives --install /usr/bin/pager pager \
            /usr/bin/less 77
        echo "$(date +%s)" > /etc/stamp 2>/dev/null
        ;;
    abort-upgrade|upgrade)
        rm -f /etc/old
        ;;
esac
cat << EOF2
rm -rf /not-a-command
EOF2
X=1 ldconfig
[ -x /usr/bin/foo ] && foo --bar || true
`
	s, err := ParseScript(src)
	if err != nil {
		t.Fatal(err)
	}
	type cmd struct {
		name    string
		line    int
		actions string
		writes  string
	}
	var got []cmd
	for _, c := range s.Commands {
		var acts []string
		for _, a := range c.Actions {
			acts = append(acts, strings.Join(a, "|"))
		}
		var ws []string
		for _, w := range c.Writes {
			ws = append(ws, w.Text)
		}
		got = append(got, cmd{c.Name(), c.Line, strings.Join(acts, ";"), strings.Join(ws, ",")})
	}
	want := []cmd{
		{"set", 2, "", ""},
		{"chmod", 5, "", ""},
		{"update-alternatives", 9, "configure", ""},
		{"date", 11, "", ""},
		{"echo", 11, "configure", "/etc/stamp"},
		{"rm", 14, "abort-upgrade|upgrade", ""},
		{"cat", 17, "", ""},
		{"ldconfig", 20, "", ""},
		{"[", 21, "", ""},
		{"foo", 21, "", ""},
		{"true", 21, "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d commands %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("command %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(s.Functions) != 1 || s.Functions[0] != "f" {
		t.Errorf("functions %v", s.Functions)
	}
}

func TestParseScriptErrors(t *testing.T) {
	for _, src := range []string{
		"echo 'unterminated",
		`echo "unterminated`,
		"echo $(unterminated",
		"cat <<EOF\nno end\n",
		"echo `unterminated",
	} {
		if _, err := ParseScript(src); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}

// TestClassify runs the closed world on small packages: each row is a postinst and what
// Classify must say about it.
func TestClassify(t *testing.T) {
	none := func(string) bool { return false }
	for _, tc := range []struct {
		name, postinst string
		skip           map[string][]string
		unhandled      []string // effects, in order
		how            map[string]How
	}{
		{name: "alternatives and services", postinst: "update-alternatives --install /usr/bin/cc cc /usr/bin/gcc 20\ndeb-systemd-helper enable x.service\nupdate-rc.d x defaults\n",
			how: map[string]How{"update-alternatives": Produced, "deb-systemd-helper": Irrelevant, "update-rc.d": Irrelevant}},
		{name: "unknown command", postinst: "frobnicate --all\n", unhandled: []string{"frobnicate"}},
		{name: "unknown command skipped", postinst: "frobnicate --all\n", skip: map[string][]string{"p": {"frobnicate"}}, how: map[string]How{"frobnicate": Skipped}},
		{name: "stale skip", postinst: "true\n", skip: map[string][]string{"p": {"frobnicate"}}, unhandled: []string{"frobnicate (skipped, but no script of the set has it)"}},
		{name: "write", postinst: "echo x > /etc/foo\necho y >/dev/null\n", unhandled: []string{"> /etc/foo"}},
		{name: "sed -i writes", postinst: "sed -i s/a/b/ /etc/foo\nsed -n p /etc/bar\n", unhandled: []string{"sed -i"}},
		{name: "computed command", postinst: "$CMD start\n", unhandled: []string{"runs a computed command $CMD"}},
		{name: "upgrade only", postinst: "case \"$1\" in\nupgrade) frobnicate ;;\nconfigure) ldconfig ;;\nesac\n",
			how: map[string]How{"frobnicate": NotRun, "ldconfig": Irrelevant}},
		{name: "functions", postinst: "f() { frobnicate; }\nf\n", unhandled: []string{"frobnicate"}},
		{name: "debconf", postinst: ". /usr/share/debconf/confmodule\ndb_get foo/bar\n", how: map[string]How{". /usr/share/debconf/confmodule": Irrelevant, "db_get": ReadOnly}},
		{name: "sourced unknown", postinst: ". /usr/share/foo/lib.sh\n", unhandled: []string{". /usr/share/foo/lib.sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			effects, err := Classify([]Package{{Name: "p", Control: map[string][]byte{"postinst": []byte(tc.postinst)}}}, none, tc.skip)
			var ue *UnhandledError
			if len(tc.unhandled) > 0 {
				if !errors.As(err, &ue) {
					t.Fatalf("err %v, want unhandled %v", err, tc.unhandled)
				}
				var got []string
				for _, u := range ue.Effects {
					got = append(got, u.Effect)
					if u.Package != "p" {
						t.Errorf("effect %s names package %q", u.Effect, u.Package)
					}
				}
				if strings.Join(got, "\n") != strings.Join(tc.unhandled, "\n") {
					t.Errorf("unhandled %q, want %q", got, tc.unhandled)
				}
				if !strings.Contains(err.Error(), "package p: ") {
					t.Errorf("error %q does not name the package", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]How{}
			for _, e := range effects {
				got[e.Name] = e.How
			}
			for n, h := range tc.how {
				if got[n] != h {
					t.Errorf("%s: %q, want %q (all: %v)", n, got[n], h, got)
				}
			}
		})
	}
}

func TestClassifyTriggers(t *testing.T) {
	pkgs := []Package{
		{Name: "libc-bin", Control: map[string][]byte{"triggers": []byte("interest-noawait ldconfig\n")}},
		{Name: "libfoo", Control: map[string][]byte{"triggers": []byte("# Triggers added by dh_makeshlibs\nactivate-noawait ldconfig\n")}},
		{Name: "sgml-base", Control: map[string][]byte{"triggers": []byte("interest-noawait /usr/share/sgml\n")}},
		{Name: "quiet", Control: map[string][]byte{"triggers": []byte("interest /usr/share/quiet\n")}},
	}
	sgml := func(dir string) bool { return dir == "/usr/share/sgml" }
	effects, err := Classify(pkgs, sgml, nil)
	var ue *UnhandledError
	if !errors.As(err, &ue) || len(ue.Effects) != 1 || ue.Effects[0].Package != "sgml-base" || ue.Effects[0].Effect != "/usr/share/sgml" {
		t.Fatalf("err %v, want sgml-base's /usr/share/sgml unhandled", err)
	}
	got := map[string]How{}
	for _, e := range effects {
		got[e.Package+" "+e.Name] = e.How
	}
	if got["libc-bin ldconfig"] != Irrelevant || got["quiet /usr/share/quiet"] != NotRun {
		t.Errorf("effects %v", got)
	}
}

func TestParseTriggers(t *testing.T) {
	ts, err := ParseTriggers("# c\n\ninterest-await /usr/share/glib-2.0/schemas\nactivate-noawait ldconfig\ninterest update-ca-certificates\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Trigger{{"/usr/share/glib-2.0/schemas", true, true}, {"ldconfig", false, false}, {"update-ca-certificates", true, true}}
	if len(ts) != len(want) {
		t.Fatalf("%+v", ts)
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, ts[i], want[i])
		}
	}
	for _, bad := range []string{"interest", "frob x", "interest a b", "interest /usr/../etc"} {
		if _, err := ParseTriggers(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestShells writes /etc/shells from add-shell calls of reachable postinst code and shells.d.
func TestShells(t *testing.T) {
	tree := fstree.New()
	if err := tree.Add(fstree.Entry{Path: "usr/share/debianutils/shells.d/zsh", Kind: fstree.File, Mode: 0o644, Data: []byte("/bin/zsh\n/usr/bin/zsh\n")}); err != nil {
		t.Fatal(err)
	}
	pkgs := []Package{
		{Name: "bash", Control: map[string][]byte{"postinst": []byte("case \"$1\" in configure) add-shell /bin/bash /usr/bin/bash ;; esac\n")}},
		{Name: "old", Control: map[string][]byte{"postinst": []byte("case \"$1\" in abort-upgrade) add-shell /bin/old ;; esac\n")}},
	}
	res, err := Configure(tree, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := tree.Get("etc/shells")
	want := "# /etc/shells: valid login shells\n/bin/zsh\n/usr/bin/zsh\n/bin/bash\n/usr/bin/bash\n"
	if !ok || string(e.Data) != want || len(res.Shells) != 4 {
		t.Errorf("etc/shells: %q, want %q", e.Data, want)
	}
	// debianutils' template and drop-ins on merged /usr: each shell, then its path through /usr,
	// as a fresh trixie install writes them; var/lib/shells.state lists them.
	tree = fstree.New()
	for _, e := range []fstree.Entry{
		{Path: "bin", Kind: fstree.Symlink, Target: "usr/bin", Mode: 0o777},
		{Path: shellsTemplate, Kind: fstree.File, Mode: 0o644, Data: []byte("# /etc/shells: valid login shells\n/bin/sh\n")},
		{Path: shellsDir + "dash", Kind: fstree.File, Mode: 0o644, Data: []byte("/bin/dash\n")},
		{Path: shellsDir + "bash", Kind: fstree.File, Mode: 0o644, Data: []byte("/bin/bash\n/bin/rbash # restricted\n")},
	} {
		if err := tree.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Configure(tree, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	e, _ = tree.Get("etc/shells")
	want = "# /etc/shells: valid login shells\n/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n/bin/rbash\n/usr/bin/rbash\n/bin/dash\n/usr/bin/dash\n"
	if e == nil || string(e.Data) != want {
		t.Errorf("etc/shells on merged /usr: %q, want %q", e.Data, want)
	}
	if e, ok := tree.Get(shellsState); !ok || !strings.HasPrefix(string(e.Data), "/bin/sh\n/usr/bin/sh\n") {
		t.Errorf("%s is missing or wrong", shellsState)
	}
	if _, err := Configure(fstree.New(), []Package{{Name: "x", Control: map[string][]byte{"postinst": []byte("add-shell $SHELL\n")}}}, Options{}); err == nil {
		t.Error("a computed add-shell argument was accepted")
	}
}

// A recipe may leave to the guest an effect the builder would produce: its skip wins over the rule.
func TestClassifySkipOverridesRule(t *testing.T) {
	pkgs := []Package{{Name: "libglib2.0-0t64", Control: map[string][]byte{"postinst": []byte("#!/bin/sh\nglib-compile-schemas /usr/share/glib-2.0/schemas\n")}}}
	effects, err := Classify(pkgs, func(string) bool { return false }, map[string][]string{"libglib2.0-0t64": {"glib-compile-schemas"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(effects) != 1 || effects[0].How != Skipped {
		t.Fatalf("effects %+v, want glib-compile-schemas skipped", effects)
	}
}
