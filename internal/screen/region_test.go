package screen

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
)

// panelScreen is 100x60: a #2e3440 panel over the top 10 rows, with 5 of its pixels off by
// 20 in blue, a #0000aa background, and a red run of 30 px at (20, 40).
func panelScreen() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 100, 60))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{0, 0, 0xaa, 0xff}), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(0, 0, 100, 10), image.NewUniform(color.RGBA{0x2e, 0x34, 0x40, 0xff}), image.Point{}, draw.Src)
	for x := 0; x < 5; x++ {
		img.Set(x*10, 5, color.RGBA{0x2e, 0x34, 0x54, 0xff})
	}
	img.Set(3, 5, color.RGBA{0x2e + 6, 0x34 - 6, 0x40 + 6, 0xff}) // within ±8
	draw.Draw(img, image.Rect(20, 40, 50, 41), image.NewUniform(color.RGBA{0xcd, 0, 0, 0xff}), image.Point{}, draw.Src)
	img.Set(60, 40, color.RGBA{0xcd, 0, 0, 0xff}) // a lone red pixel, not a run
	return img
}

func TestParseColour(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Colour
		ok   bool
	}{
		{"#2e3440", Colour{0x2e, 0x34, 0x40}, true},
		{"FF00ff", Colour{0xff, 0, 0xff}, true},
		{"#fff", Colour{}, false},
		{"#gg0000", Colour{}, false},
	} {
		got, err := ParseColour(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseColour(%q) = %v, %v", tt.in, got, err)
		}
		if tt.ok && got.String() != "#"+lower(tt.in[len(tt.in)-6:]) {
			t.Errorf("%v.String() = %s", got, got.String())
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestFraction(t *testing.T) {
	img := panelScreen()
	panel := Colour{0x2e, 0x34, 0x40}
	for _, tt := range []struct {
		name string
		r    image.Rectangle
		c    Colour
		tol  uint8
		want float64
	}{
		{"the panel, exact", image.Rect(0, 0, 100, 10), panel, 0, 994.0 / 1000},
		{"the panel ±8 takes the near pixel", image.Rect(0, 0, 100, 10), panel, 8, 995.0 / 1000},
		{"the panel ±20 takes all", image.Rect(0, 0, 100, 10), panel, 20, 1},
		{"the background is not the panel", image.Rect(0, 20, 100, 60), panel, 8, 0},
		{"half panel half background", image.Rect(0, 5, 1, 15), Colour{0, 0, 0xaa}, 0, 0.5},
		{"clipped to the screen", image.Rect(-50, -50, 100, 10), panel, 20, 1},
		{"outside the screen", image.Rect(200, 200, 300, 300), panel, 20, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fraction(img, tt.r, tt.c, tt.tol); got != tt.want {
				t.Errorf("Fraction = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDominant(t *testing.T) {
	img := panelScreen()
	for _, tt := range []struct {
		name  string
		r     image.Rectangle
		want  Colour
		share float64
	}{
		{"the panel", image.Rect(0, 0, 100, 10), Colour{0x2e, 0x34, 0x40}, 0.994},
		{"the whole screen is mostly background", img.Bounds(), Colour{0, 0, 0xaa}, (5000 - 31.0) / 6000},
		{"a tie goes to the smaller colour", image.Rect(19, 40, 21, 41), Colour{0, 0, 0xaa}, 0.5},
		{"empty", image.Rect(0, 0, 0, 0), Colour{}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, share := Dominant(img, tt.r)
			if got != tt.want || share != tt.share {
				t.Errorf("Dominant = %v %v, want %v %v", got, share, tt.want, tt.share)
			}
		})
	}
}

func TestFindRun(t *testing.T) {
	img := panelScreen()
	red := Colour{0xcd, 0, 0}
	for _, tt := range []struct {
		name  string
		band  image.Rectangle
		c     Colour
		tol   uint8
		min   int
		at    image.Point
		width int
		ok    bool
	}{
		{"the red run", image.Rect(0, 30, 100, 50), red, 0, 30, image.Pt(20, 40), 30, true},
		{"a near red within tolerance", image.Rect(0, 30, 100, 50), Colour{0xc0, 8, 8}, 16, 10, image.Pt(20, 40), 30, true},
		{"not that wide", image.Rect(0, 30, 100, 50), red, 0, 31, image.Point{}, 0, false},
		{"a run cut by the band's edge", image.Rect(0, 30, 40, 50), red, 0, 20, image.Pt(20, 40), 20, true},
		{"a band without it", image.Rect(0, 0, 100, 30), red, 0, 1, image.Point{}, 0, false},
		{"a run up to the right edge", image.Rect(0, 20, 100, 21), Colour{0, 0, 0xaa}, 0, 100, image.Pt(0, 20), 100, true},
		{"the lone pixel counts for minimum 1", image.Rect(51, 40, 100, 41), red, 0, 1, image.Pt(60, 40), 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			at, w, ok := FindRun(img, tt.band, tt.c, tt.tol, tt.min)
			if at != tt.at || w != tt.width || ok != tt.ok {
				t.Errorf("FindRun = %v %d %v, want %v %d %v", at, w, ok, tt.at, tt.width, tt.ok)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	a := panelScreen()
	b := panelScreen()
	b.Set(70, 30, color.White)
	b.Set(72, 33, color.White)
	for _, tt := range []struct {
		name string
		a, b image.Image
		want image.Rectangle
	}{
		{"equal", a, panelScreen(), image.Rectangle{}},
		{"two pixels", a, b, image.Rect(70, 30, 73, 34)},
		{"other sizes", a, image.NewRGBA(image.Rect(0, 0, 5, 5)), image.Rect(0, 0, 5, 5)},
	} {
		if got := Changed(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Changed = %v, want %v", tt.name, got, tt.want)
		}
	}
}
