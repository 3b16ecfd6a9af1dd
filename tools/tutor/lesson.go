// Package tutor is educational-tutor: lessons about GenAI OS in the terminal, each step checked
// against the live system (the init's control socket, the file system), with progress kept per
// user.
package tutor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// DefaultDir is where the image keeps the lessons (sources: tools/tutor/lessons).
const DefaultDir = "/usr/share/genai/tutor"

// Lesson is one lesson file: a header between "---" lines, an introduction, then one step per
// "## " heading.
type Lesson struct {
	ID, Title string
	Order     int
	Intro     string
	Steps     []Step
	File      string
}

// Step is a part of a lesson: text to read and, when Checks is not empty, something to do that
// the tutor checks.
type Step struct {
	Title  string
	Body   string
	Checks []Check
	Hint   string
}

// ParseError is a problem in a lesson file, at a line.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Parse reads one lesson. The header keys are id, title, order (an integer: the list's order),
// "check N: KIND ARGS" (step N's check; repeat for several, all must pass) and "hint N: TEXT"
// (shown when step N's check fails).
func Parse(file string, r io.Reader) (*Lesson, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	l := &Lesson{File: file}
	errAt := func(line int, format string, a ...any) error {
		return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	n := 0
	type pending struct {
		line, step int
		check      *Check
		hint       string
	}
	var per []pending
	seen := map[string]int{}
	// The header.
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, errAt(1, "%v", err)
		}
		return nil, errAt(1, "empty file; a lesson starts with a \"---\" line")
	}
	n++
	if strings.TrimSpace(sc.Text()) != "---" {
		return nil, errAt(1, "a lesson starts with a \"---\" line, then id:, title:, order:, then \"---\"")
	}
	closed := false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "---" {
			closed = true
			break
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, errAt(n, "want \"key: value\", got %q", line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		kind, num, hasNum := strings.Cut(key, " ")
		if !hasNum {
			if prev, dup := seen[key]; dup {
				return nil, errAt(n, "%s given twice (first at line %d)", key, prev)
			}
			seen[key] = n
		}
		switch {
		case key == "id":
			if !idRE.MatchString(val) {
				return nil, errAt(n, "id %q: want lower-case letters, digits and dashes", val)
			}
			l.ID = val
		case key == "title":
			if val == "" {
				return nil, errAt(n, "empty title")
			}
			l.Title = val
		case key == "order":
			o, err := strconv.Atoi(val)
			if err != nil {
				return nil, errAt(n, "order %q: want an integer", val)
			}
			l.Order = o
		case hasNum && (kind == "check" || kind == "hint"):
			step, err := strconv.Atoi(strings.TrimSpace(num))
			if err != nil || step < 1 {
				return nil, errAt(n, "%s %q: want a step number from 1 (\"%s 2: ...\")", kind, num, kind)
			}
			p := pending{line: n, step: step}
			if kind == "check" {
				c, err := ParseCheck(val)
				if err != nil {
					return nil, errAt(n, "%v", err)
				}
				p.check = &c
			} else {
				if val == "" {
					return nil, errAt(n, "empty hint")
				}
				p.hint = val
			}
			per = append(per, p)
		default:
			return nil, errAt(n, "unknown key %q (known: id, title, order, check N, hint N)", key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, errAt(n, "%v", err)
	}
	if !closed {
		return nil, errAt(n, "the header has no closing \"---\" line")
	}
	for _, k := range []string{"id", "title", "order"} {
		if _, ok := seen[k]; !ok {
			return nil, errAt(1, "the header has no %s:", k)
		}
	}
	// The body: the introduction, then "## " steps.
	var text strings.Builder
	flush := func() string { s := strings.TrimSpace(text.String()); text.Reset(); return s }
	cur := -1
	for sc.Scan() {
		n++
		raw := sc.Text()
		if title, ok := strings.CutPrefix(raw, "## "); ok {
			if cur < 0 {
				l.Intro = flush()
			} else {
				l.Steps[cur].Body = flush()
			}
			title = strings.TrimSpace(title)
			if title == "" {
				return nil, errAt(n, "a step heading with no title")
			}
			l.Steps = append(l.Steps, Step{Title: title})
			cur++
			continue
		}
		text.WriteString(raw)
		text.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, errAt(n, "%v", err)
	}
	if cur < 0 {
		return nil, errAt(n, "no steps: each step starts with a \"## \" heading")
	}
	l.Steps[cur].Body = flush()
	for _, p := range per {
		if p.step > len(l.Steps) {
			return nil, errAt(p.line, "step %d: the lesson has %d steps", p.step, len(l.Steps))
		}
		s := &l.Steps[p.step-1]
		if p.check != nil {
			s.Checks = append(s.Checks, *p.check)
		} else if s.Hint != "" {
			return nil, errAt(p.line, "hint %d given twice", p.step)
		} else {
			s.Hint = p.hint
		}
	}
	return l, nil
}

// ParseFile parses the lesson at path.
func ParseFile(path string) (*Lesson, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// LoadDir parses every *.md in dir, sorted by order then id. Every bad file is reported.
func LoadDir(dir string) ([]*Lesson, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return nil, err
	}
	var ls []*Lesson
	var errs []string
	ids := map[string]string{}
	for _, f := range files {
		l, err := ParseFile(f)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if prev, dup := ids[l.ID]; dup {
			errs = append(errs, fmt.Sprintf("%s:1: id %q is also %s's", f, l.ID, prev))
			continue
		}
		ids[l.ID] = f
		ls = append(ls, l)
	}
	if len(errs) > 0 {
		return ls, fmt.Errorf("lessons: %s", strings.Join(errs, "\n"))
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("no lessons (*.md) in %s", dir)
	}
	sort.SliceStable(ls, func(i, j int) bool {
		if ls[i].Order != ls[j].Order {
			return ls[i].Order < ls[j].Order
		}
		return ls[i].ID < ls[j].ID
	})
	return ls, nil
}
