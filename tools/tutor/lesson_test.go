package tutor

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `---
id: demo
title: A demo
order: 5
# a comment
check 2: unit-running demo.service
check 2: level-at-least 0.9
hint 2: sudo consciousness-manager level 0.9
check 3: file-contains ~/notes.txt hello world
---
Intro text.

## Read
Just read.
## Do
Raise the level.

## Write
Write hello world.
`

func TestParse(t *testing.T) {
	l, err := Parse("demo.md", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != "demo" || l.Title != "A demo" || l.Order != 5 || l.Intro != "Intro text." || len(l.Steps) != 3 {
		t.Fatalf("%+v", l)
	}
	if s := l.Steps[0]; s.Title != "Read" || s.Body != "Just read." || len(s.Checks) != 0 {
		t.Errorf("step 1 %+v", s)
	}
	s := l.Steps[1]
	if len(s.Checks) != 2 || s.Checks[0].String() != "unit-running demo.service" || s.Checks[1].String() != "level-at-least 0.9" ||
		s.Hint != "sudo consciousness-manager level 0.9" {
		t.Errorf("step 2 %+v", s)
	}
	if c := l.Steps[2].Checks; len(c) != 1 || c[0].Args[0] != "~/notes.txt" || c[0].Args[1] != "hello world" {
		t.Errorf("step 3 %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", "x.md:1: empty file"},
		{"id: a\n", "x.md:1: a lesson starts with"},
		{"---\nid: a\ntitle: t\norder: 1\n", "x.md:4: the header has no closing"},
		{"---\nid: A b\n---\n", `x.md:2: id "A b"`},
		{"---\nid: a\nid: b\n---\n", "x.md:3: id given twice (first at line 2)"},
		{"---\nid: a\ntitle: t\norder: x\n---\n", `x.md:4: order "x": want an integer`},
		{"---\nid: a\ntitle: t\nauthor: me\n---\n", `x.md:4: unknown key "author"`},
		{"---\nid: a\ntitle: t\n---\n## s\n", "x.md:1: the header has no order:"},
		{"---\nid: a\ntitle: t\norder: 1\n---\nno steps\n", `x.md:6: no steps`},
		{"---\nid: a\ntitle: t\norder: 1\ncheck 1: unit-flying x\n---\n## s\n", `x.md:5: unknown check "unit-flying"`},
		{"---\nid: a\ntitle: t\norder: 1\ncheck 1: level-at-least 2\n---\n## s\n", `x.md:5: check level-at-least: `},
		{"---\nid: a\ntitle: t\norder: 1\ncheck 1: file-contains /etc/passwd\n---\n## s\n", `x.md:5: check file-contains: want a path and a text`},
		{"---\nid: a\ntitle: t\norder: 1\ncheck 0: file-exists /x\n---\n## s\n", `x.md:5: check "0": want a step number`},
		{"---\nid: a\ntitle: t\norder: 1\n\ncheck 2: file-exists /x\n---\n## s\n", `x.md:6: step 2: the lesson has 1 steps`},
		{"---\nid: a\ntitle: t\norder: 1\nhint 1: a\nhint 1: b\n---\n## s\n", `x.md:6: hint 1 given twice`},
		{"---\nid: a\ntitle: t\norder: 1\n---\n##  \n", `x.md:6: a step heading with no title`},
	} {
		_, err := Parse("x.md", strings.NewReader(tc.text))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q...", tc.text, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	files, _ := filepath.Glob("lessons/*.md")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse("f.md", bytes.NewReader(b))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.md:") {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if l.ID == "" || l.Title == "" || len(l.Steps) == 0 {
			t.Fatalf("accepted an incomplete lesson: %+v", l)
		}
		for _, s := range l.Steps {
			for _, c := range s.Checks {
				if _, err := ParseCheck(c.String()); err != nil && c.Kind != "file-contains" {
					t.Fatalf("check %q does not parse again: %v", c, err)
				}
			}
		}
	})
}

// The shipped lessons parse, and the developer overlay holds exact copies (the image's
// /usr/share/genai/tutor), as it holds the man page's.
func TestShippedLessons(t *testing.T) {
	ls, err := LoadDir("lessons")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	if got := strings.Join(ids, " "); got != "units levels manager logs packages ssh-keys updates" {
		t.Errorf("lessons in order: %s", got)
	}
	const overlay = "../../overlays/developer/usr/share/genai/tutor"
	src, _ := filepath.Glob("lessons/*")
	dst, _ := filepath.Glob(overlay + "/*")
	if len(src) != len(dst) {
		t.Errorf("%d lessons in tools/tutor/lessons, %d in %s: copy them (cp tools/tutor/lessons/*.md %s/)", len(src), len(dst), overlay, overlay)
	}
	for _, p := range src {
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(overlay, filepath.Base(p)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from its copy in %s (%v): cp tools/tutor/lessons/*.md %s/", p, overlay, err, overlay)
		}
	}
	for _, pair := range [][2]string{{"educational-tutor.1", "../../overlays/developer/usr/share/man/man1/educational-tutor.1"}} {
		a, err := os.ReadFile(pair[0])
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(pair[1]); err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s (%v): copy it", pair[1], pair[0], err)
		}
	}
}

// LoadDir reports every bad file and a duplicate id, each with its position.
func TestLoadDirErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.md"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "b.md"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "c.md"), []byte("---\nid: c\n"), 0o644)
	_, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), `b.md:1: id "demo" is also`) || !strings.Contains(err.Error(), "c.md:2: the header has no closing") {
		t.Errorf("err = %v", err)
	}
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no lessons") {
		t.Errorf("empty dir: %v", err)
	}
}
