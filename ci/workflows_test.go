// Package ci_test checks the GitHub Actions workflows (.github/workflows, and the local actions in
// .github/actions they use) beyond what actionlint knows: every command a run: step runs must be
// something `make test` exercises, so a workflow cannot rot without a test noticing. A run: step
// may call
//   - make TARGET... (or bash .ci/run TARGET..., which installs the test tools and runs make), with
//     targets that exist in the Makefile and that `make test` runs (itself or as a prerequisite),
//     or that notInMakeTest lists with the reason they are safe;
//   - genai-build VERB [flags] (also bin/genai-build and go run ./cmd/genai-build), where the verb
//     and its flags are checked against the real command tree: internal/cli parses them with
//     --help added, which prints the verb's help instead of running it;
//   - a few plumbing commands (plumbing below): shell builtins, writing $GITHUB_ENV and the
//     summary, the KVM udev rule, gh release and gh issue.
//
// It also refuses ${{ }} expressions inside run: scripts (GitHub pastes them into the script
// unquoted, so a tag or branch name could inject commands: pass values through env: instead), a
// shell other than bash, and actions not pinned by commit SHA with a version comment.
package ci_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"mvdan.cc/sh/v3/syntax"

	"github.com/genai-os/genai-build/internal/cli"
)

const root = ".."

// notInMakeTest are the Makefile targets a workflow may call although `make test` does not run
// them, each with what in `make test` covers it.
var notInMakeTest = map[string]string{
	"boot-test": "runs one edition's subset of the ./test/boot tests that make test runs whole",
	"iso":       "go run ./cmd/genai-build iso: the build the boot tests run in-process (build.Run), and internal/cli's tests run the verb",
	"build":     "go build ./cmd/genai-build: make check's go vet compiles the same packages",
}

// TestWorkflows checks every run: step and uses: of every workflow and local action.
func TestWorkflows(t *testing.T) {
	c := newChecker(t)
	files, err := workflowFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"workflows/test.yml", "workflows/release.yml", "workflows/lock-check.yml", "actions/prepare/action.yml"} {
		if !slices.Contains(files, filepath.Join(root, ".github", want)) {
			t.Errorf(".github/%s is missing (found %v)", want, files)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range c.file(data) {
			t.Errorf("%s:%s", f, p)
		}
	}
}

// TestWorkflowCheckerRejects shows that the checker catches each kind of mistake, and lets the
// plumbing through.
func TestWorkflowCheckerRejects(t *testing.T) {
	c := newChecker(t)
	for _, tt := range []struct {
		script string
		want   string // in the problem; "" for a script that must pass
	}{
		{"go run ./cmd/genai-build lokc --check", `unknown command "lokc"`},
		{"bin/genai-build lock --chek", "unknown flag: --chek"},
		{"genai-build iso --edition \"$E\" --no-such-flag", "unknown flag: --no-such-flag"},
		{"genai-build --help", "no verb"},
		{"make tset", `make target "tset" is not in the Makefile`},
		{"make bench", `make target "bench" is not run by make test`},
		{"bash .ci/run bench-memory EDITION=server", `make target "bench-memory" is not run by make test`},
		{"make \"$TARGET\"", "make target from a variable"},
		{"go test ./...", "go test ./...: not make, genai-build or plumbing"},
		{"curl -fsSL https://example.invalid/x.sh | sh", "curl"},
		{"echo ${{ github.head_ref }}", "${{"},
		{"sudo rm -rf /", "sudo rm"},
		{"gh repo delete", "gh repo"},
		{"if true; then\n  x=$(wget -q -O- example.invalid)\nfi", "wget"},
		{"make test", ""},
		{"bash .ci/run iso boot-test EDITION=\"$EDITION\"", ""},
		{"go run ./cmd/genai-build lock --check >out.txt 2>&1 || echo \"exit $?\" >>\"$GITHUB_STEP_SUMMARY\"", ""},
		{"set +e\ncode=$?\ncase $code in\n100) echo x | tee \"$RUNNER_TEMP/r.md\" ;;\n*) exit \"$code\" ;;\nesac", ""},
	} {
		probs := c.script(tt.script, 0)
		got := strings.Join(probs, "\n")
		switch {
		case tt.want == "" && len(probs) > 0:
			t.Errorf("%q: want no problem, got:\n%s", tt.script, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%q: want a problem with %q, got:\n%s", tt.script, tt.want, got)
		}
	}
	for _, tt := range []struct{ yaml, want string }{
		{"steps:\n  - uses: actions/checkout@v4\n", "pin it"},
		{"steps:\n  - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1\n", "as a comment"},
		{"steps:\n  - run: make test\n    shell: sh\n", "shell sh"},
		{"jobs:\n  j:\n    steps:\n      - run: |\n          make test\n          make tset\n", `6: "make tset"`},
		{"steps:\n  - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n  - uses: ./.github/actions/prepare\n", ""},
	} {
		got := strings.Join(c.file([]byte(tt.yaml)), "\n")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%q: want a problem with %q, got:\n%s", tt.yaml, tt.want, got)
		}
	}
}

func workflowFiles(root string) ([]string, error) {
	var files []string
	for _, pat := range []string{".github/workflows/*.yml", ".github/workflows/*.yaml", ".github/actions/*/action.yml", ".github/actions/*/action.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

type checker struct {
	targets   map[string]bool // the Makefile's targets
	exercised map[string]bool // test and its prerequisites, transitively
}

func newChecker(t *testing.T) *checker {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	prereqs := makeRules(mk)
	c := &checker{targets: map[string]bool{}, exercised: map[string]bool{}}
	for tgt := range prereqs {
		c.targets[tgt] = true
	}
	var visit func(string)
	visit = func(tgt string) {
		if c.exercised[tgt] {
			return
		}
		c.exercised[tgt] = true
		for _, p := range prereqs[tgt] {
			visit(p)
		}
	}
	visit("test")
	if !c.exercised["lint-ci"] {
		t.Errorf("make test does not run lint-ci (its prerequisites: %v)", prereqs["test"])
	}
	for tgt, why := range notInMakeTest {
		if !c.targets[tgt] {
			t.Errorf("notInMakeTest lists %q (%s), which the Makefile does not have", tgt, why)
		}
		c.exercised[tgt] = true
	}
	return c
}

// makeRules reads the Makefile's explicit rules: target → prerequisites. Variable assignments
// (VAR = x, VAR := x, VAR ?= x), recipes (tab-indented) and special targets (.PHONY) are not rules.
func makeRules(mk []byte) map[string][]string {
	rule := regexp.MustCompile(`^([A-Za-z0-9_.%/-]+(?:[ \t]+[A-Za-z0-9_.%/-]+)*)[ \t]*:([^=].*)?$`)
	rules := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(mk))
	for sc.Scan() {
		m := rule.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		deps := strings.Fields(strings.SplitN(m[2], "#", 2)[0])
		for _, tgt := range strings.Fields(m[1]) {
			if !strings.HasPrefix(tgt, ".") {
				rules[tgt] = append(rules[tgt], deps...)
			}
		}
	}
	return rules
}

// file checks a workflow or action file: every run:, uses: and shell: in it, wherever they are
// (jobs' steps, a composite action's steps). Problems start with the line number.
func (c *checker) file(data []byte) []string {
	var probs []string
	err := scalars(data, func(key string, v *yaml.Node) {
		switch key {
		case "run":
			probs = append(probs, c.script(v.Value, scriptLine(v))...)
		case "uses":
			if p := checkUses(v); p != "" {
				probs = append(probs, fmt.Sprintf("%d: %s", v.Line, p))
			}
		case "shell":
			if v.Value != "bash" {
				probs = append(probs, fmt.Sprintf("%d: shell %s: use bash (actionlint's shellcheck and this test read the scripts as bash)", v.Line, v.Value))
			}
		}
	})
	if err != nil {
		return []string{"0: " + err.Error()}
	}
	return probs
}

// scalars calls fn for every key of the YAML document whose value is a scalar.
func scalars(data []byte, fn func(key string, v *yaml.Node)) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if v := n.Content[i+1]; v.Kind == yaml.ScalarNode {
					fn(n.Content[i].Value, v)
				}
			}
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(&doc)
	return nil
}

// scriptLine is the file line of a run: script's first line.
func scriptLine(v *yaml.Node) int {
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return v.Line + 1 // a block scalar's text starts on the next line
	}
	return v.Line
}

// TestActionScripts runs shellcheck over the run: scripts of the local actions
// (.github/actions): actionlint checks the workflows' scripts but not those of the actions they
// use.
func TestActionScripts(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is needed (apt-get install shellcheck; .ci/run installs it)")
	}
	files, err := workflowFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if !strings.Contains(f, "/.github/actions/") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		err = scalars(data, func(key string, v *yaml.Node) {
			if key != "run" {
				return
			}
			n++
			cmd := exec.Command("shellcheck", "--shell=bash", "--format=gcc", "-")
			cmd.Stdin = strings.NewReader(v.Value)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s:%d: shellcheck (lines counted from the script's first): %v\n%s", f, scriptLine(v), err, out)
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if n == 0 {
		t.Error("no run: script found in .github/actions")
	}
}

var (
	pinned     = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@[0-9a-f]{40}$`)
	versionTag = regexp.MustCompile(`^# v[0-9]+(\.[0-9]+)*$`)
)

// checkUses wants a third-party action pinned by the full commit SHA (a tag can be moved to other
// code), with the version it is as a comment for readers and update tools.
func checkUses(v *yaml.Node) string {
	switch {
	case strings.HasPrefix(v.Value, "./"):
		return ""
	case !pinned.MatchString(v.Value):
		return fmt.Sprintf("uses: %s: pin it by the full commit SHA (owner/repo@<40 hex digits> # vX.Y.Z)", v.Value)
	case !versionTag.MatchString(v.LineComment):
		return fmt.Sprintf("uses: %s: add the version the SHA is as a comment (# vX.Y.Z), found %q", v.Value, v.LineComment)
	}
	return ""
}

// script checks a run: script; line is where it starts in the file (problems are numbered from
// there).
func (c *checker) script(src string, line int) []string {
	at := func(l uint) string { return fmt.Sprintf("%d", line+int(l)-1) }
	if strings.Contains(src, "${{") {
		return []string{at(1) + ": ${{ }} in a run: script: GitHub pastes the value into the script unquoted; pass it through env: and use \"$NAME\""}
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), "")
	if err != nil {
		return []string{at(1) + ": " + err.Error()}
	}
	var probs []string
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true // assignments alone run nothing; words inside them are walked
		}
		words := make([]word, len(call.Args))
		for i, w := range call.Args {
			words[i] = literal(w)
		}
		if p := c.call(words); p != "" {
			probs = append(probs, fmt.Sprintf("%s: %q: %s", at(call.Pos().Line()), strings.TrimSpace(src[call.Pos().Offset():call.End().Offset()]), p))
		}
		return true
	})
	return probs
}

// word is a shell word: its text, with "X" for what the shell computes when the script runs.
type word struct {
	s       string
	dynamic bool
}

func literal(w *syntax.Word) word {
	var out word
	var parts func([]syntax.WordPart)
	parts = func(ps []syntax.WordPart) {
		for _, p := range ps {
			switch p := p.(type) {
			case *syntax.Lit:
				out.s += p.Value
			case *syntax.SglQuoted:
				out.s += p.Value
			case *syntax.DblQuoted:
				parts(p.Parts)
			default:
				out.s += "X"
				out.dynamic = true
			}
		}
	}
	parts(w.Parts)
	return out
}

// plumbing are the commands besides make and genai-build a run: step may call: shell builtins
// and text tools that run nothing else. Commands with arguments that matter are in call.
var plumbing = map[string]bool{
	"echo": true, "printf": true, "cat": true, "tee": true, "set": true, "exit": true, "test": true,
	"[": true, "true": true, "umask": true, "mkdir": true,
}

// call checks one command; "" when it is allowed.
func (c *checker) call(w []word) string {
	name := w[0].s
	switch {
	case w[0].dynamic:
		return "the command is computed when the script runs: name it"
	case name == "make":
		return c.makeArgs(w[1:])
	case name == "bash" && len(w) > 1 && w[1].s == ".ci/run":
		return c.makeArgs(w[2:])
	case name == "genai-build" || name == "bin/genai-build" || name == "./bin/genai-build":
		return verb(w[1:])
	case name == "go" && len(w) > 2 && w[1].s == "run" && strings.TrimSuffix(w[2].s, "/") == "./cmd/genai-build":
		return verb(w[3:])
	case plumbing[name]:
		return ""
	case name == "gh":
		if len(w) > 2 && (w[1].s == "release" && w[2].s == "create" || w[1].s == "issue" && slices.Contains([]string{"list", "comment", "create"}, w[2].s)) {
			return ""
		}
		return "gh " + w[min(1, len(w)-1)].s + ": only gh release create and gh issue list/comment/create are plumbing"
	case name == "git" && len(w) > 1 && w[1].s == "log":
		// The source date every job shares (.github/actions/prepare): git log reads, it runs nothing.
		return ""
	case name == "sudo":
		// The KVM udev rule (.github/actions/prepare); .ci/run installs packages itself.
		if len(w) > 2 && w[1].s == "tee" && strings.HasPrefix(w[2].s, "/etc/udev/rules.d/") || len(w) > 1 && w[1].s == "udevadm" {
			return ""
		}
		return "sudo " + w[min(1, len(w)-1)].s + ": sudo is for the KVM udev rule only (tee /etc/udev/rules.d/..., udevadm)"
	}
	return strings.Join(texts(w), " ") + ": not make, genai-build or plumbing; add a Makefile target that make test runs, or a genai-build verb"
}

func texts(w []word) []string {
	s := make([]string, len(w))
	for i := range w {
		s[i] = w[i].s
	}
	return s
}

// makeArgs checks make's arguments: VAR=value assignments, and targets.
func (c *checker) makeArgs(args []word) string {
	for _, a := range args {
		switch {
		case strings.Contains(a.s, "="):
		case a.dynamic:
			return "make target from a variable: name the target so this test can check it"
		case strings.HasPrefix(a.s, "-"):
			return "make " + a.s + ": no make flags in a workflow"
		case !c.targets[a.s]:
			return fmt.Sprintf("make target %q is not in the Makefile", a.s)
		case !c.exercised[a.s]:
			return fmt.Sprintf("make target %q is not run by make test: call one it runs, or list it in notInMakeTest with what covers it", a.s)
		}
	}
	return ""
}

// verb asks the real command tree: it parses the arguments with --help added, which checks the
// verb and every flag (cobra parses flags before it looks at --help) and then prints the verb's
// help instead of running it.
func verb(args []word) string {
	if firstVerb(args) == "" {
		return "no verb"
	}
	var out bytes.Buffer
	argv := append(texts(args), "--help")
	if code := cli.Main(context.Background(), cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out,
		Getenv: func(string) string { return "" }}, argv); code != 0 {
		return fmt.Sprintf("genai-build %s: exit %d: %s", strings.Join(texts(args), " "), code, strings.TrimSpace(out.String()))
	}
	return ""
}

// firstVerb is the first argument that is not a flag or a global flag's value.
func firstVerb(args []word) string {
	for i := 0; i < len(args); i++ {
		a := args[i].s
		if a == "--root" || a == "--cache-dir" {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}
