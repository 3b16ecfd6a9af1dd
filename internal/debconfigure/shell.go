package debconfigure

import (
	"fmt"
	"strings"
)

// The maintainer scripts are POSIX shell (Debian Policy §6.1 and §10.4). This file reads them
// far enough to list the simple commands they run, with their words, the files they write by
// redirection and the case arm of "$1" they sit in (Policy §6.5: the action dpkg passes). It does
// not evaluate anything: a word with a parameter expansion, command substitution or arithmetic is
// marked as not literal, and a caller that needs its value must refuse it.

// Word is one shell word with its quotes removed.
type Word struct {
	Text    string
	Literal bool // no unquoted or double-quoted $ or ` expansion: Text is what the shell would pass
}

// Command is one simple command of a script.
type Command struct {
	Words  []Word // the command word first; leading assignments (X=1 cmd) are dropped
	Writes []Word // targets of output redirections (> and >>), /dev/null and &N left out
	Line   int    // 1-based line of the command word
	// Actions are the patterns of the enclosing `case "$1" in` arms, innermost last; nil outside.
	Actions [][]string
}

// Name is the command word ("" for a command of assignments only).
func (c Command) Name() string {
	if len(c.Words) == 0 {
		return ""
	}
	return c.Words[0].Text
}

// Script is what ParseScript found.
type Script struct {
	Commands  []Command
	Functions []string // names of the shell functions the script defines
}

// maxNesting bounds command substitutions inside command substitutions, so that hostile input
// cannot recurse without end.
const maxNesting = 32

// ParseScript lists the simple commands of a shell script. It fails on what it cannot follow
// (an unterminated quote, substitution or here-document), never guesses.
func ParseScript(src string) (*Script, error) {
	p := &parser{src: src, line: 1}
	s := &Script{}
	if err := p.run(s, 0, nil); err != nil {
		return nil, err
	}
	return s, nil
}

type parser struct {
	src  string
	pos  int
	line int
}

type caseFrame struct {
	onArg1   bool // case "$1" in
	inArm    bool // after the arm's ')', before its ';;'
	patterns []string
}

// run reads commands until the end of p.src.
func (p *parser) run(s *Script, depth int, outer [][]string) error {
	if depth > maxNesting {
		return fmt.Errorf("line %d: command substitutions nested deeper than %d", p.line, maxNesting)
	}
	var (
		cur      Command
		heredocs []string
		cases    []*caseFrame
		skipFor  bool // inside `for NAME in words`, up to the separator
		wantCase int  // 1 after `case`: the next word is the subject; 2: expect `in`
		caseSubj Word
		redirect bool // the next word is a redirection target
		writeTgt bool // ... of an output redirection
	)
	actions := func() [][]string {
		out := append([][]string(nil), outer...)
		for _, c := range cases {
			if c.onArg1 && c.inArm {
				out = append(out, c.patterns)
			}
		}
		return out
	}
	end := func() {
		if len(cur.Words) > 0 {
			s.Commands = append(s.Commands, cur)
		} else if len(cur.Writes) > 0 {
			cur.Words = []Word{{Text: ":", Literal: true}}
			s.Commands = append(s.Commands, cur)
		}
		cur = Command{}
		skipFor = false
	}
	addWord := func(w Word, line int) error {
		if redirect {
			redirect = false
			if writeTgt && w.Text != "/dev/null" {
				cur.Writes = append(cur.Writes, w)
				if cur.Line == 0 {
					cur.Line, cur.Actions = line, actions()
				}
			}
			return nil
		}
		if skipFor {
			return nil
		}
		switch wantCase {
		case 1:
			caseSubj, wantCase = w, 2
			return nil
		case 2:
			if w.Text != "in" {
				return fmt.Errorf("line %d: case without in", line)
			}
			wantCase = 0
			cases = append(cases, &caseFrame{onArg1: caseSubj.Text == "$1" || caseSubj.Text == "${1}"})
			return nil
		}
		if len(cur.Words) == 0 {
			if len(cases) > 0 && !cases[len(cases)-1].inArm {
				// An arm's pattern list, up to ')'.
				if w.Text == "esac" {
					cases = cases[:len(cases)-1]
					return nil
				}
				return p.readPatterns(cases[len(cases)-1], w)
			}
			switch w.Text {
			case "if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "fi", "done", "time":
				return nil
			case "esac":
				if len(cases) > 0 {
					cases = cases[:len(cases)-1]
				}
				return nil
			case "for":
				skipFor = true
				return nil
			case "case":
				wantCase = 1
				return nil
			}
			if i := strings.IndexByte(w.Text, '='); i > 0 && isName(w.Text[:i]) {
				return nil // an assignment
			}
		}
		if len(cur.Words) == 0 {
			cur.Line, cur.Actions = line, actions()
		}
		cur.Words = append(cur.Words, w)
		return nil
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\n':
			p.pos++
			p.line++
			end()
			for _, d := range heredocs {
				if err := p.skipHeredoc(d); err != nil {
					return err
				}
			}
			heredocs = nil
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case c == '\\' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '\n':
			p.pos += 2
			p.line++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case c == ';':
			if strings.HasPrefix(p.src[p.pos:], ";;") || strings.HasPrefix(p.src[p.pos:], ";&") {
				p.pos += 2
				end()
				if len(cases) > 0 {
					cases[len(cases)-1].inArm = false
				}
				continue
			}
			p.pos++
			end()
		case c == '&' || c == '|':
			p.pos++
			if p.pos < len(p.src) && p.src[p.pos] == c {
				p.pos++
			}
			end()
		case c == '(' || c == ')':
			p.pos++
			if c == '(' && len(cur.Words) == 1 && strings.HasPrefix(p.src[p.pos:], ")") {
				// NAME() { ...; }: a function definition.
				p.pos++
				s.Functions = append(s.Functions, cur.Words[0].Text)
				cur = Command{}
				continue
			}
			end()
		case c == '>' || c == '<':
			op := p.readOperator()
			switch {
			case strings.HasPrefix(op, "<<"):
				line := p.line
				// Blanks may separate the operator from its delimiter (POSIX 2.7.4: `cat << END`).
				for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
					p.pos++
				}
				w, err := p.readWord(s, depth)
				if err != nil {
					return err
				}
				if w.Text == "" {
					return fmt.Errorf("line %d: here-document without a delimiter", line)
				}
				d := w.Text
				if op == "<<-" {
					d = "\t" + d
				}
				heredocs = append(heredocs, d)
			case strings.HasSuffix(op, "&"):
				// >&2, 2>&1: a descriptor, not a file.
				if _, err := p.readWord(s, depth); err != nil {
					return err
				}
			default:
				redirect, writeTgt = true, op[0] == '>' || op == "<>"
			}
		default:
			line := p.line
			// A descriptor number right before a redirection (2>/dev/null) is part of it.
			if c >= '0' && c <= '9' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == '>' || p.src[p.pos+1] == '<') {
				p.pos++
				continue
			}
			w, err := p.readWord(s, depth)
			if err != nil {
				return err
			}
			if err := addWord(w, line); err != nil {
				return err
			}
		}
	}
	if len(heredocs) > 0 {
		return fmt.Errorf("line %d: here-document %q not terminated", p.line, strings.TrimPrefix(heredocs[0], "\t"))
	}
	end()
	return nil
}

func (p *parser) readOperator() string {
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte("<>&|-", p.src[p.pos]) >= 0 && p.pos-start < 3 {
		if p.src[p.pos] == '-' && p.src[start:p.pos] != "<<" {
			break
		}
		if p.src[p.pos] == '|' && p.src[start:p.pos] != ">" {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

// readPatterns reads a case arm's patterns, from the first word w up to ')'.
func (p *parser) readPatterns(f *caseFrame, w Word) error {
	pats := []string{strings.TrimPrefix(w.Text, "(")}
	for {
		for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
			p.pos++
		}
		if p.pos >= len(p.src) {
			return fmt.Errorf("line %d: case pattern without ')'", p.line)
		}
		switch p.src[p.pos] {
		case ')':
			p.pos++
			f.patterns, f.inArm = pats, true
			return nil
		case '|':
			p.pos++
			for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
				p.pos++
			}
			w, err := p.readWord(&Script{}, 0)
			if err != nil {
				return err
			}
			pats = append(pats, w.Text)
		default:
			return fmt.Errorf("line %d: unexpected %q in a case pattern", p.line, p.src[p.pos])
		}
	}
}

func (p *parser) skipHeredoc(delim string) error {
	for p.pos < len(p.src) {
		i := strings.IndexByte(p.src[p.pos:], '\n')
		var line string
		if i < 0 {
			line, p.pos = p.src[p.pos:], len(p.src)
		} else {
			line, p.pos = p.src[p.pos:p.pos+i], p.pos+i+1
		}
		p.line++
		if line == delim || strings.HasPrefix(delim, "\t") && strings.TrimLeft(line, "\t") == delim[1:] {
			return nil
		}
	}
	return fmt.Errorf("here-document %q not terminated", strings.TrimPrefix(delim, "\t"))
}

// readWord reads one word at p.pos; commands inside its substitutions go to s.
func (p *parser) readWord(s *Script, depth int) (Word, error) {
	var b strings.Builder
	w := Word{Literal: true}
	start := p.line
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case strings.IndexByte(" \t\r\n;&|()<>", c) >= 0:
			if c == '(' && b.Len() == 0 {
				// "(pattern)" in a case arm; a subshell is handled by the caller.
				p.pos++
				continue
			}
			w.Text = b.String()
			return w, nil
		case c == '\\':
			if p.pos+1 < len(p.src) {
				if p.src[p.pos+1] == '\n' {
					p.line++
				} else {
					b.WriteByte(p.src[p.pos+1])
				}
				p.pos += 2
			} else {
				p.pos++
			}
		case c == '\'':
			j := strings.IndexByte(p.src[p.pos+1:], '\'')
			if j < 0 {
				return w, fmt.Errorf("line %d: unterminated single quote", start)
			}
			lit := p.src[p.pos+1 : p.pos+1+j]
			p.line += strings.Count(lit, "\n")
			b.WriteString(lit)
			p.pos += j + 2
		case c == '"':
			p.pos++
			closed := false
			for p.pos < len(p.src) && !closed {
				d := p.src[p.pos]
				switch {
				case d == '"':
					p.pos++
					closed = true
				case d == '\\' && p.pos+1 < len(p.src) && strings.IndexByte("$`\"\\\n", p.src[p.pos+1]) >= 0:
					if p.src[p.pos+1] == '\n' {
						p.line++
					} else {
						b.WriteByte(p.src[p.pos+1])
					}
					p.pos += 2
				case d == '$' || d == '`':
					w.Literal = false
					if err := p.expansion(&b, s, depth); err != nil {
						return w, err
					}
				default:
					if d == '\n' {
						p.line++
					}
					b.WriteByte(d)
					p.pos++
				}
			}
			if !closed {
				return w, fmt.Errorf("line %d: unterminated double quote", start)
			}
		case c == '$' || c == '`':
			w.Literal = false
			if err := p.expansion(&b, s, depth); err != nil {
				return w, err
			}
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	w.Text = b.String()
	return w, nil
}

// expansion reads $name, ${...}, $(...), $((...)) or `...` at p.pos, writes its raw text to b
// (so that "$1" reads as $1) and parses the commands of a command substitution into s.
func (p *parser) expansion(b *strings.Builder, s *Script, depth int) error {
	start, line := p.pos, p.line
	c := p.src[p.pos]
	var inner string
	switch {
	case c == '`':
		j := strings.IndexByte(p.src[p.pos+1:], '`')
		if j < 0 {
			return fmt.Errorf("line %d: unterminated `", line)
		}
		inner = p.src[p.pos+1 : p.pos+1+j]
		p.pos += j + 2
	case strings.HasPrefix(p.src[p.pos:], "$(("):
		end, err := p.matching(p.pos+1, '(', ')')
		if err != nil {
			return err
		}
		p.pos = end + 1
	case strings.HasPrefix(p.src[p.pos:], "$("):
		end, err := p.matching(p.pos+1, '(', ')')
		if err != nil {
			return err
		}
		inner = p.src[p.pos+2 : end]
		p.pos = end + 1
	case strings.HasPrefix(p.src[p.pos:], "${"):
		end, err := p.matching(p.pos+1, '{', '}')
		if err != nil {
			return err
		}
		p.pos = end + 1
	default:
		p.pos++
		if p.pos < len(p.src) && strings.IndexByte("@*#?-$!0123456789", p.src[p.pos]) >= 0 {
			p.pos++
		} else {
			for p.pos < len(p.src) && (isNameByte(p.src[p.pos])) {
				p.pos++
			}
		}
	}
	raw := p.src[start:p.pos]
	b.WriteString(raw)
	p.line += strings.Count(raw, "\n")
	if inner != "" {
		sub := &parser{src: inner, line: line}
		if err := sub.run(s, depth+1, nil); err != nil {
			return err
		}
	}
	return nil
}

// matching returns the index of the bracket closing the one at i, skipping quoted text.
func (p *parser) matching(i int, open, close byte) (int, error) {
	n, inDouble := 0, false
	for j := i; j < len(p.src); j++ {
		switch c := p.src[j]; {
		case c == '\\':
			j++
		case c == '"':
			inDouble = !inDouble
		case inDouble && c == '$' && j+1 < len(p.src) && p.src[j+1] == '(':
			end, err := p.matching(j+1, '(', ')')
			if err != nil {
				return 0, err
			}
			j = end
		case inDouble:
		case c == '\'' && open == '(':
			k := strings.IndexByte(p.src[j+1:], '\'')
			if k < 0 {
				return 0, fmt.Errorf("line %d: unterminated single quote", p.line)
			}
			j += k + 1
		case c == open:
			n++
		case c == close:
			n--
			if n == 0 {
				return j, nil
			}
		}
	}
	return 0, fmt.Errorf("line %d: unterminated %c", p.line, open)
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}
