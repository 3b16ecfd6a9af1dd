package debugger

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

const graphHelp = `usage: consciousness-debugger graph [--dot]

The units as a tree of what pulls in what: "requires" (Requires=: fails with
it), "wants" (Wants=), "triggers" (a socket starts its service on a
connection). After= orderings are noted on each unit. Each unit shows its
state; a unit reached twice is shown once, then "(above)".

examples:
  consciousness-debugger graph
  consciousness-debugger graph --dot | dot -Tsvg > units.svg
`

// edge is one "pulls in" relation between units.
type edge struct{ From, To, Kind string } // Kind: requires, wants, triggers

// edges lists what pulls in what, sorted.
func edges(units []svc.Status) []edge {
	var out []edge
	for _, u := range units {
		for _, r := range u.Requires {
			out = append(out, edge{u.Name, r, "requires"})
		}
		for _, w := range u.Wants {
			out = append(out, edge{u.Name, w, "wants"})
		}
		if u.TriggeredBy != "" {
			out = append(out, edge{u.TriggeredBy, u.Name, "triggers"})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

func stateOf(u svc.Status) string {
	s := string(u.State)
	if u.Result != "" && u.State != svc.Running {
		s += " " + u.Result
	}
	return s
}

// writeTree draws the graph as a tree from the units nothing pulls in.
func writeTree(w io.Writer, units []svc.Status) {
	byName := map[string]svc.Status{}
	for _, u := range units {
		byName[u.Name] = u
	}
	children := map[string][]edge{}
	pulled := map[string]bool{}
	for _, e := range edges(units) {
		children[e.From] = append(children[e.From], e)
		pulled[e.To] = true
	}
	shown := map[string]bool{}
	label := func(name string) string {
		u, ok := byName[name]
		if !ok {
			return name + " [not loaded]"
		}
		l := fmt.Sprintf("%s [%s]", name, stateOf(u))
		if u.Level != "" && u.Level != "0.0" {
			l += " level " + u.Level
		}
		if len(u.After) > 0 {
			l += " (after " + strings.Join(u.After, ", ") + ")"
		}
		return l
	}
	var walk func(name, prefix string)
	walk = func(name, prefix string) {
		shown[name] = true
		kids := children[name]
		for i, e := range kids {
			branch, next := "├─ ", "│  "
			if i == len(kids)-1 {
				branch, next = "└─ ", "   "
			}
			if shown[e.To] {
				fmt.Fprintf(w, "%s%s%s %s (above)\n", prefix, branch, e.Kind, e.To)
				continue
			}
			fmt.Fprintf(w, "%s%s%s %s\n", prefix, branch, e.Kind, label(e.To))
			walk(e.To, prefix+next)
		}
	}
	root := func(name string) {
		fmt.Fprintln(w, label(name))
		walk(name, "")
	}
	for _, u := range units {
		if !pulled[u.Name] {
			root(u.Name)
		}
	}
	for _, u := range units { // in a cycle of pulls: no root reaches them
		if !shown[u.Name] {
			root(u.Name)
		}
	}
}

// writeDOT writes the graph in Graphviz's DOT language: pulls as solid (requires bold), After=
// orderings dashed, failed units red, units not running grey.
func writeDOT(w io.Writer, units []svc.Status) {
	fmt.Fprintln(w, "digraph units {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, "  node [shape=box, fontname=monospace];")
	for _, u := range units {
		attr := ""
		switch u.State {
		case svc.Failed:
			attr = `, color=red, fontcolor=red`
		case svc.Running, svc.Exited:
		default:
			attr = `, color=grey, fontcolor=grey`
		}
		fmt.Fprintf(w, "  %q [label=%q%s];\n", u.Name, u.Name+"\n"+stateOf(u), attr)
	}
	for _, e := range edges(units) {
		style := ""
		switch e.Kind {
		case "requires":
			style = ", style=bold"
		case "triggers":
			style = ", color=blue"
		}
		fmt.Fprintf(w, "  %q -> %q [label=%q%s];\n", e.From, e.To, e.Kind, style)
	}
	for _, u := range units {
		for _, a := range u.After {
			fmt.Fprintf(w, "  %q -> %q [label=\"after\", style=dashed, color=grey];\n", a, u.Name)
		}
	}
	fmt.Fprintln(w, "}")
}

func graphCmd(e *env, args []string) error {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	dot := fs.Bool("dot", false, "write Graphviz DOT instead of a tree")
	pos, err := e.parse(fs, graphHelp, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: no arguments expected, got %q", errUsage, pos)
	}
	r, err := e.call(ctl.Request{Verb: "status"})
	if err != nil {
		return err
	}
	if *dot {
		writeDOT(e.stdout, r.Services)
	} else {
		writeTree(e.stdout, r.Services)
	}
	return nil
}
