package svc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/initramfs/unit"
)

// graph is the ordering between known units: preds[b] lists the units that
// must be settled before b starts (b After= a, or a Before= b), and succs the
// reverse, used to stop in reverse order.
type graph struct {
	preds map[string][]string
	succs map[string][]string
}

// buildGraph orders units by After=/Before=, ignoring references to units it
// does not know (such as targets). Ordering cycles are broken
// deterministically: a depth-first search in name order drops every edge that
// closes a cycle; each drop is returned as a message naming the cycle.
func buildGraph(units map[string]*unit.Unit) (graph, []string) {
	edges := map[string]map[string]bool{} // a -> b: a before b
	add := func(a, b string) {
		if a == b || units[a] == nil || units[b] == nil {
			return
		}
		if edges[a] == nil {
			edges[a] = map[string]bool{}
		}
		edges[a][b] = true
	}
	for n, u := range units {
		for _, a := range u.After {
			add(a, n)
		}
		for _, b := range u.Before {
			add(n, b)
		}
	}
	names := make([]string, 0, len(units))
	for n := range units {
		names = append(names, n)
	}
	sort.Strings(names)
	sorted := func(m map[string]bool) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}

	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var dropped []string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range sorted(edges[n]) {
			switch color[m] {
			case white:
				visit(m)
			case grey: // back edge: n -> m closes a cycle
				i := len(stack) - 1
				for stack[i] != m {
					i--
				}
				cycle := append(append([]string{}, stack[i:]...), m)
				dropped = append(dropped, fmt.Sprintf("ordering cycle %s: dropped %s before %s",
					strings.Join(cycle, " -> "), n, m))
				delete(edges[n], m)
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range names {
		if color[n] == white {
			visit(n)
		}
	}
	g := graph{preds: map[string][]string{}, succs: map[string][]string{}}
	for _, a := range names {
		for _, b := range sorted(edges[a]) {
			g.succs[a] = append(g.succs[a], b)
			g.preds[b] = append(g.preds[b], a)
		}
	}
	return g, dropped
}

// closure is names plus everything they pull in through Wants= and Requires=,
// sorted. Missing units that are Required are returned in missing (a
// requirement on a .target is always met: targets are not units here).
func closure(units map[string]*unit.Unit, names []string) (set []string, missing map[string][]string) {
	seen := map[string]bool{}
	missing = map[string][]string{}
	var walk func(n string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		u := units[n]
		if u == nil {
			return
		}
		seen[n] = true
		for _, w := range u.Wants {
			walk(w)
		}
		for _, r := range u.Requires {
			if units[r] == nil && !strings.HasSuffix(r, ".target") {
				missing[n] = append(missing[n], r)
			}
			walk(r)
		}
	}
	for _, n := range names {
		walk(n)
	}
	for n := range seen {
		set = append(set, n)
	}
	sort.Strings(set)
	return set, missing
}
