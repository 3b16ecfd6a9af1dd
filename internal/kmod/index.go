package kmod

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Module is one module file of a kernel's module tree.
type Module struct {
	Path string // relative to /usr/lib/modules/<kver>, e.g. kernel/drivers/block/virtio_blk.ko.xz
	Info ModInfo
}

// Index finds modules by name and orders them for loading. Build it with NewIndex; it is not
// changed by Resolve, so one Index may serve concurrent callers once AddBuiltin calls are done.
type Index struct {
	byName  map[string]Module // key: Canonical name
	builtin map[string]bool   // Canonical names compiled into the kernel
}

// NewIndex indexes mods by name: Info.Name, or the name derived from Path when .modinfo has
// none. If two modules share a name, the first one wins (the kernel would refuse the second).
func NewIndex(mods []Module) *Index {
	ix := &Index{byName: map[string]Module{}, builtin: map[string]bool{}}
	for _, m := range mods {
		name := m.Info.Name
		if name == "" {
			name = NameFromPath(m.Path)
		}
		key := Canonical(name)
		if _, dup := ix.byName[key]; !dup {
			ix.byName[key] = m
		}
	}
	return ix
}

// AddBuiltin records modules compiled into the kernel (modules.builtin). Resolve treats them as
// present and leaves them out of its result, since there is nothing to load.
func (ix *Index) AddBuiltin(names ...string) {
	for _, n := range names {
		ix.builtin[Canonical(n)] = true
	}
}

// ParseBuiltin reads a modules.builtin file (one "kernel/.../name.ko" a line, written by kbuild
// and shipped in Debian's linux-image packages) and returns the module names.
func ParseBuiltin(r io.Reader) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		names = append(names, NameFromPath(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modules.builtin: %w", err)
	}
	return names, nil
}

// Lookup returns the module called name ('-' and '_' are the same).
func (ix *Index) Lookup(name string) (Module, bool) {
	m, ok := ix.byName[Canonical(name)]
	return m, ok
}

// UnknownModule is a module name that is neither in the index nor built in.
type UnknownModule struct {
	Name        string
	NeededBy    string   // the module whose depends= names it; empty if it was asked for
	Suggestions []string // indexed names close to Name
}

// UnknownModulesError lists every name Resolve could not find, asked for or depended on.
type UnknownModulesError struct {
	Unknown []UnknownModule
}

func (e *UnknownModulesError) Error() string {
	parts := make([]string, 0, len(e.Unknown))
	for _, u := range e.Unknown {
		s := u.Name
		if u.NeededBy != "" {
			s += " (needed by " + u.NeededBy + ")"
		}
		if len(u.Suggestions) > 0 {
			s += " (did you mean " + strings.Join(u.Suggestions, " or ") + "?)"
		}
		parts = append(parts, s)
	}
	noun := "module"
	if len(parts) > 1 {
		noun = "modules"
	}
	return fmt.Sprintf("unknown kernel %s: %s", noun, strings.Join(parts, ", "))
}

// CycleError is a dependency cycle among modules; Cycle starts and ends with the same name.
type CycleError struct {
	Cycle []string
}

func (e *CycleError) Error() string {
	return "kernel module dependency cycle: " + strings.Join(e.Cycle, " -> ")
}

// Resolve returns the named modules and everything they need, each once, in an order in which
// they can be loaded: every module comes after all of its depends= and, when they are in the
// index, its softdep "pre:" modules (which are optional: absent ones are skipped). Among modules
// that could go next, the one with the smallest name goes first, so the order is deterministic.
// Built-in modules are satisfied and left out.
//
// virtio_ring before its users (FACTS.md) needs no special case. drivers/virtio/Makefile builds
// virtio.o and virtio_ring.o as two objects of CONFIG_VIRTIO, so when VIRTIO is modular modpost
// writes depends=virtio,virtio_ring into virtio_blk, virtio_net, ... and they come first here.
// When VIRTIO_PCI=y (Debian's 6.12) it selects VIRTIO=y, both are built in, no depends= names
// them, and an edition that lists them needs AddBuiltin (from modules.builtin) to resolve.
//
// Unknown names, asked for or depended on, are all reported in one *UnknownModulesError; a cycle
// is a *CycleError.
func (ix *Index) Resolve(names []string) ([]Module, error) {
	// Collect the closure: key -> its edges (keys it must come after).
	after := map[string][]string{}
	var unknown []UnknownModule
	seenUnknown := map[string]bool{}
	addUnknown := func(name, neededBy string) {
		key := Canonical(name)
		if seenUnknown[key] {
			return
		}
		seenUnknown[key] = true
		unknown = append(unknown, UnknownModule{Name: name, NeededBy: neededBy, Suggestions: ix.suggest(key)})
	}
	var visit func(key string)
	visit = func(key string) {
		if _, done := after[key]; done {
			return
		}
		m := ix.byName[key]
		var deps []string
		for _, d := range m.Info.Depends {
			dk := Canonical(d)
			if ix.builtin[dk] {
				continue
			}
			if _, ok := ix.byName[dk]; !ok {
				addUnknown(d, key)
				continue
			}
			deps = append(deps, dk)
		}
		for _, d := range m.Info.SoftDepsPre {
			dk := Canonical(d)
			if _, ok := ix.byName[dk]; ok && !ix.builtin[dk] {
				deps = append(deps, dk)
			}
		}
		slices.Sort(deps)
		deps = slices.Compact(deps)
		after[key] = deps
		for _, d := range deps {
			visit(d)
		}
	}
	for _, n := range names {
		key := Canonical(n)
		if ix.builtin[key] {
			continue
		}
		if _, ok := ix.byName[key]; !ok {
			addUnknown(n, "")
			continue
		}
		visit(key)
	}
	if len(unknown) > 0 {
		return nil, &UnknownModulesError{Unknown: unknown}
	}

	// Kahn's algorithm with a min-heap of ready names.
	pending := map[string]int{} // key -> number of unloaded dependencies
	users := map[string][]string{}
	for k, deps := range after {
		pending[k] = len(deps)
		for _, d := range deps {
			users[d] = append(users[d], k)
		}
	}
	ready := &stringHeap{}
	for k, n := range pending {
		if n == 0 {
			heap.Push(ready, k)
		}
	}
	out := make([]Module, 0, len(after))
	for ready.Len() > 0 {
		k := heap.Pop(ready).(string)
		out = append(out, ix.byName[k])
		for _, u := range users[k] {
			if pending[u]--; pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(out) < len(after) {
		return nil, &CycleError{Cycle: findCycle(after, pending)}
	}
	return out, nil
}

// findCycle walks, from the smallest name still blocked, to a blocked dependency until a name
// repeats. Every blocked module has a blocked dependency, so the walk ends in a cycle.
func findCycle(after map[string][]string, pending map[string]int) []string {
	var blocked []string
	for k, n := range pending {
		if n > 0 {
			blocked = append(blocked, k)
		}
	}
	sort.Strings(blocked)
	pos := map[string]int{}
	var walk []string
	k := blocked[0]
	for {
		if i, ok := pos[k]; ok {
			return append(walk[i:], k)
		}
		pos[k] = len(walk)
		walk = append(walk, k)
		for _, d := range after[k] { // sorted, so the cycle found is deterministic
			if pending[d] > 0 {
				k = d
				break
			}
		}
	}
}

// suggest returns up to three indexed names within a small edit distance of key, or containing it.
func (ix *Index) suggest(key string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	limit := 2
	if len(key) <= 3 {
		limit = 1
	}
	for name := range ix.byName {
		d := editDistance(key, name)
		if d > limit && !(len(key) >= 4 && strings.Contains(name, key)) {
			continue
		}
		cs = append(cs, cand{name, d})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

type stringHeap []string

func (h stringHeap) Len() int           { return len(h) }
func (h stringHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h stringHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *stringHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *stringHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
