package welcome

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	p := Page{Edition: "desktop", Version: "0.1.0", Arch: "amd64", Kernel: "6.12.57+deb13-amd64",
		Shortcuts: []Shortcut{{"Super+Return", "a terminal"}},
		Tools:     []Tool{{"consciousness-manager status", "the system's units"}},
		Packages: []Package{{"sway", "1.10.1-2", "Expat"}, {"foot", "1.21.0-2", ""},
			{"evil", "1<script>", "GPL & <b>"}}}
	b, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"<title>Welcome to GenAI OS desktop 0.1.0</title>",
		"background: " + MarkerColour,
		"Linux <b>6.12.57&#43;deb13-amd64</b>", // html/template escapes +
		"<kbd>Super&#43;Return</kbd></td><td>a terminal",
		"<code>consciousness-manager status</code>",
		"<h2>Packages (3)</h2>",
		"<td>foot</td><td>1.21.0-2</td><td>see /usr/share/doc/foot/copyright</td>",
		"<td>sway</td><td>1.10.1-2</td><td>Expat</td>",
		"1&lt;script&gt;", "GPL &amp; &lt;b&gt;",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	// sorted by name, whatever the order given
	if e, f, w := strings.Index(s, "<td>evil"), strings.Index(s, "<td>foot"), strings.Index(s, "<td>sway"); !(e < f && f < w) {
		t.Errorf("packages not sorted: evil %d foot %d sway %d", e, f, w)
	}
	if strings.Contains(s, "<script>") {
		t.Error("a package's text reached the page unescaped")
	}
	again, _ := Render(p)
	if string(again) != s {
		t.Error("two renders of one page differ")
	}
	if _, err := Render(Page{Edition: "desktop"}); err == nil {
		t.Error("a page without version and kernel rendered")
	}
}
