// Package strictyaml decodes the project's YAML manifests strictly: an unknown field or a value of
// the wrong type is an error with its line, and the line of every field is kept, so that checks
// made after decoding can point at the right line too.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Problem is one decoding error at a line (0 when the line is unknown).
type Problem struct {
	Line int
	Msg  string
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+\.(\w+)$`)
)

// Decode decodes data into v, rejecting unknown fields. It returns the line of every mapping key and
// sequence item by its dotted path ("kernel.modules[2]"), and every problem found.
func Decode(data []byte, v any) (map[string]int, []Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return nil, problems(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, problems(err)
	}
	pos := map[string]int{}
	if len(root.Content) > 0 {
		positions(root.Content[0], "", pos)
	}
	return pos, nil
}

// problems turns a yaml.v3 error into Problems, saying "unknown field" in words a user expects.
func problems(err error) []Problem {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var ps []Problem
	for _, m := range msgs {
		p := Problem{Msg: m}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			p.Line, _ = strconv.Atoi(sm[1])
			p.Msg = sm[2]
			if fm := unknownField.FindStringSubmatch(p.Msg); fm != nil {
				p.Msg = fmt.Sprintf("%q is not a known field of %s", fm[1], fm[2])
			}
		}
		ps = append(ps, p)
	}
	return ps
}

func positions(n *yaml.Node, prefix string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if prefix != "" {
				p = prefix + "." + p
			}
			out[p] = n.Content[i].Line
			positions(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			out[p] = c.Line
			positions(c, p, out)
		}
	}
}
