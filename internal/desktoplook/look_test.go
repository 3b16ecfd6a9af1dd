package desktoplook

import (
	"image"
	"image/color"
	"os"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/screen"
)

// The desktop's own configuration: the colours the screen tests look for.
func TestLoadDesktop(t *testing.T) {
	l, err := Load("../../overlays/desktop/etc/sway/config")
	if err != nil {
		t.Fatal(err)
	}
	if l.Bar.String() != "#f1c40f" || l.Background.String() != "#1d3557" {
		t.Errorf("look = bar %s, background %s; want the yellow bar #f1c40f over #1d3557", l.Bar, l.Background)
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct{ conf, want, err string }{
		{"output * bg #102030 solid_color\nbar {\n  colors {\n    background #aabbcc\n  }\n}\n", "#aabbcc #102030", ""},
		// a background elsewhere than bar.colors is not the bar's
		{"output * background #102030 solid_color\nbar {\n  background #000000\n  colors {\n    statusline #ffffff\n    background #010203\n  }\n}\n", "#010203 #102030", ""},
		{"bar {\n  colors {\n    background #aabbcc\n  }\n}\n", "", "no \"output * bg"},
		{"output * bg #102030 solid_color\n", "", "no bar {"},
		{"output * bg #1020 solid_color\n", "", "x:1: output * bg: colour \"#1020\""},
		{"}\n", "", "x:1: a } that closes no block"},
	} {
		l, err := Parse(strings.NewReader(c.conf), "x")
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: err = %v, want %q", c.conf, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.conf, err)
		case c.err == "" && l.Bar.String()+" "+l.Background.String() != c.want:
			t.Errorf("%q: bar %s, background %s; want %s", c.conf, l.Bar, l.Background, c.want)
		}
	}
}

func TestBindings(t *testing.T) {
	conf := "set $mod Mod4\nset $t xterm\nset $term foot\noutput * bg #102030 solid_color\nbindsym $mod+Return exec $term\n" +
		"bindsym $mod+Shift+e exec swaynag -m 'Leave?'\nmode resize {\n  bindsym Return mode default\n}\nbar {\n  colors {\n    background #aabbcc\n  }\n}\n"
	l, err := Parse(strings.NewReader(conf), "x")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Bindings["Mod4+Return"]; got != "exec foot" {
		t.Errorf("Mod4+Return = %q, want exec foot ($term, not $t followed by erm)", got)
	}
	for keys, want := range map[string]bool{"Super+Return": true, "super+shift+E": true, "Super+b": false, "Return": false} {
		if l.Bound(keys) != want {
			t.Errorf("Bound(%s) = %v, want %v (a mode's bindings are not the session's)", keys, !want, want)
		}
	}
}

// The desktop edition's shortcuts (session.shortcuts: the welcome page's list) are bound in its
// sway configuration and listed in its /etc/motd, which are written by hand.
func TestDesktopShortcuts(t *testing.T) {
	e, err := edition.Set{Dir: "../../editions"}.Load("desktop")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load("../../overlays/desktop/etc/sway/config")
	if err != nil {
		t.Fatal(err)
	}
	motd, err := os.ReadFile("../../overlays/desktop/etc/motd")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Session.Shortcuts) == 0 {
		t.Fatal("the desktop edition lists no shortcuts")
	}
	for _, k := range e.Session.Shortcuts {
		for _, chord := range strings.Split(k.Keys, " / ") {
			if !l.Bound(chord) {
				t.Errorf("%s (%s): not bound in the sway configuration", chord, k.Does)
			}
		}
		if !strings.Contains(string(motd), k.Keys) {
			t.Errorf("%s (%s): not in /etc/motd", k.Keys, k.Does)
		}
	}
}

func TestBarDrawn(t *testing.T) {
	l := Look{Bar: screen.Colour{R: 0xf1, G: 0xc4, B: 0x0f}, Background: screen.Colour{R: 0x1d, G: 0x35, B: 0x57}}
	img := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	fill := func(r image.Rectangle, c screen.Colour) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				img.Set(x, y, color.RGBA{c.R, c.G, c.B, 0xff})
			}
		}
	}
	fill(img.Bounds(), l.Background)
	if l.BarDrawn(img) {
		t.Error("the bar found on the background alone")
	}
	fill(image.Rect(0, 0, 1024, 20), l.Bar)
	if !l.BarDrawn(img) {
		t.Error("the bar not found")
	}
	if l.BarDrawn(img.SubImage(image.Rect(0, 0, 640, 480))) {
		t.Error("the bar found on a screen narrower than sway's 800 pixels")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("output * bg #102030 solid_color\nbar {\n colors {\n background #aabbcc\n }\n}\n")
	f.Add("}\n{\n")
	f.Fuzz(func(t *testing.T, conf string) {
		Parse(strings.NewReader(conf), "fuzz") // must not panic
	})
}
