// Package desktoplook reads how the desktop session looks from its sway configuration
// (overlays/desktop/etc/sway/config), for the tests and the bench that look at the screen: the
// bar's colour, the background's, and whether a screendump shows the bar. The configuration is
// the one source of those colours.
package desktoplook

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/genai-os/genai-build/internal/screen"
)

// Look is what the session's screen shows before any window opens, and the keys it binds.
type Look struct {
	Bar        screen.Colour // bar { colors { background } }
	Background screen.Colour // output * bg <colour> solid_color
	// Bindings are the top-level bindsym commands by key chord, with $variables expanded
	// ("Mod4+Return": "exec foot").
	Bindings map[string]string
}

// Load reads the sway configuration at path.
func Load(path string) (Look, error) {
	f, err := os.Open(path)
	if err != nil {
		return Look{}, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a sway configuration (sway(5)): blocks in braces, one command a line, # comments.
// name is the file's name for errors, which give the line.
func Parse(r io.Reader, name string) (Look, error) {
	var (
		l               Look
		haveBar, haveBG bool
		blocks          []string
		n               int
		vars            = map[string]string{} // set $name value
	)
	l.Bindings = map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case f[len(f)-1] == "{":
			blocks = append(blocks, f[0])
			continue
		case f[0] == "}":
			if len(blocks) == 0 {
				return Look{}, fmt.Errorf("%s:%d: a } that closes no block", name, n)
			}
			blocks = blocks[:len(blocks)-1]
			continue
		}
		in := strings.Join(blocks, ".")
		if in == "" && f[0] == "set" && len(f) >= 3 && strings.HasPrefix(f[1], "$") {
			vars[f[1]] = strings.Join(f[2:], " ")
			continue
		}
		for i, w := range f {
			if v, ok := vars[w]; ok {
				f[i] = v
			} else if strings.Contains(w, "$") {
				// the longest name first: $term before $t
				names := slices.SortedFunc(maps.Keys(vars), func(a, b string) int { return len(b) - len(a) })
				for _, k := range names {
					f[i] = strings.ReplaceAll(f[i], k, vars[k])
				}
			}
		}
		switch {
		case in == "" && f[0] == "bindsym" && len(f) >= 3:
			l.Bindings[f[1]] = strings.Join(f[2:], " ")
		case in == "bar.colors" && f[0] == "background" && len(f) == 2:
			c, err := screen.ParseColour(f[1])
			if err != nil {
				return Look{}, fmt.Errorf("%s:%d: bar colors background: %w", name, n, err)
			}
			l.Bar, haveBar = c, true
		case in == "" && f[0] == "output" && len(f) == 5 && f[1] == "*" && (f[2] == "bg" || f[2] == "background") && f[4] == "solid_color":
			c, err := screen.ParseColour(f[3])
			if err != nil {
				return Look{}, fmt.Errorf("%s:%d: output * bg: %w", name, n, err)
			}
			l.Background, haveBG = c, true
		}
	}
	if err := sc.Err(); err != nil {
		return Look{}, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case !haveBar:
		return Look{}, fmt.Errorf("%s: no bar { colors { background #rrggbb } }: the screen tests find the bar by its colour", name)
	case !haveBG:
		return Look{}, fmt.Errorf("%s: no \"output * bg #rrggbb solid_color\": the screen tests find the background by its colour", name)
	}
	return l, nil
}

// BarDrawn says whether img shows the bar: the middle of its top 14 rows (the workspace buttons
// are left, the clock right) is the bar's colour. swaybar is a client sway starts after its
// socket answers, so the bar is the session's first whole frame.
func (l Look) BarDrawn(img image.Image) bool {
	b := img.Bounds()
	return b.Dx() >= 800 && screen.Fraction(img, image.Rect(b.Dx()/4, 4, b.Dx()*3/4, 14), l.Bar, 8) >= 0.98
}

// Bound says whether keys, as a person writes them ("Super+Shift+e"), are bound: Super is Mod4,
// and key names compare without case.
func (l Look) Bound(keys string) bool {
	want := strings.ReplaceAll(strings.ToLower(keys), "super", "mod4")
	for k := range l.Bindings {
		if strings.ToLower(k) == want {
			return true
		}
	}
	return false
}
