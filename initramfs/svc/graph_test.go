package svc

import (
	"reflect"
	"testing"

	"github.com/genai-os/genai-build/initramfs/unit"
)

func units(us ...*unit.Unit) map[string]*unit.Unit {
	m := map[string]*unit.Unit{}
	for _, u := range us {
		m[u.Name] = u
	}
	return m
}

func TestGraphOrder(t *testing.T) {
	m := units(
		&unit.Unit{Name: "a.service"},
		&unit.Unit{Name: "b.service", After: []string{"a.service", "net.target"}},
		&unit.Unit{Name: "c.service", Before: []string{"b.service"}},
	)
	g, dropped := buildGraph(m)
	if len(dropped) != 0 {
		t.Errorf("dropped %v", dropped)
	}
	if !reflect.DeepEqual(g.preds["b.service"], []string{"a.service", "c.service"}) {
		t.Errorf("preds(b) = %v", g.preds["b.service"])
	}
	if !reflect.DeepEqual(g.succs["a.service"], []string{"b.service"}) {
		t.Errorf("succs(a) = %v", g.succs["a.service"])
	}
}

func TestGraphCycleBrokenDeterministically(t *testing.T) {
	mk := func() map[string]*unit.Unit {
		return units(
			&unit.Unit{Name: "a.service", After: []string{"c.service"}},
			&unit.Unit{Name: "b.service", After: []string{"a.service"}},
			&unit.Unit{Name: "c.service", After: []string{"b.service"}},
			&unit.Unit{Name: "d.service", After: []string{"d.service"}}, // self edge ignored
		)
	}
	var first []string
	for i := 0; i < 20; i++ {
		g, dropped := buildGraph(mk())
		want := []string{"ordering cycle a.service -> b.service -> c.service -> a.service: dropped c.service before a.service"}
		if !reflect.DeepEqual(dropped, want) {
			t.Fatalf("dropped %q", dropped)
		}
		got := []string{g.preds["b.service"][0], g.preds["c.service"][0]}
		if i == 0 {
			first = got
		} else if !reflect.DeepEqual(got, first) {
			t.Fatalf("not deterministic: %v vs %v", got, first)
		}
		if len(g.preds["a.service"]) != 0 {
			t.Errorf("a still waits for %v", g.preds["a.service"])
		}
	}
}

func TestClosure(t *testing.T) {
	m := units(
		&unit.Unit{Name: "a.service", Wants: []string{"b.service", "ghost.service"}},
		&unit.Unit{Name: "b.service", Requires: []string{"c.service", "gone.service", "network.target"}},
		&unit.Unit{Name: "c.service"},
		&unit.Unit{Name: "x.service"},
	)
	set, missing := closure(m, []string{"a.service"})
	if !reflect.DeepEqual(set, []string{"a.service", "b.service", "c.service"}) {
		t.Errorf("set %v", set)
	}
	if !reflect.DeepEqual(missing, map[string][]string{"b.service": {"gone.service"}}) {
		t.Errorf("missing %v", missing)
	}
}
