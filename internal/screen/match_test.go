package screen

import (
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBlur3(t *testing.T) {
	// One bright pixel in the middle of 5x5: the kernel [1 2 1]/4 ⊗ [1 2 1]/4 spreads it.
	g := &gray{w: 5, h: 5, p: make([]uint8, 25)}
	g.p[12] = 160
	want := []uint8{
		0, 0, 0, 0, 0,
		0, 10, 20, 10, 0,
		0, 20, 40, 20, 0,
		0, 10, 20, 10, 0,
		0, 0, 0, 0, 0,
	}
	if got := blur3(g).p; string(got) != string(want) {
		t.Errorf("blur3 = %v, want %v", got, want)
	}
	// At an edge the border reflects without repeating the edge (BORDER_REFLECT_101): a bright
	// left column sees itself once and its right neighbour twice.
	e := &gray{w: 3, h: 1, p: []uint8{160, 0, 0}}
	if got := blur3(e).p; string(got) != string([]uint8{80, 40, 0}) {
		t.Errorf("blur3 at an edge = %v, want [80 40 0]", got)
	}
}

func TestToGray(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 1))
	for x, c := range []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}} {
		img.Set(x, 0, c)
	}
	// 0.299, 0.587 and 0.114 of 255, rounded
	if got := toGray(img).p; string(got) != string([]uint8{76, 150, 29, 255}) {
		t.Errorf("toGray = %v", got)
	}
}

func TestEnhancedMSE(t *testing.T) {
	for _, tt := range []struct {
		a, b uint8
		want float64
	}{
		{100, 100, 0},
		{100, 115, 0},    // below 16: no difference
		{0, 16, 256},     // levels 0 and 1
		{100, 120, 1024}, // levels round(6.25)=6 and round(7.5)=8
		{0, 255, 65536},  // levels 0 and 16
	} {
		a := &gray{w: 2, h: 1, p: []uint8{tt.a, 7}}
		b := &gray{w: 2, h: 1, p: []uint8{tt.b, 7}}
		if got := enhancedMSE(a, 0, 0, b, 0, 0, 2, 1); got != tt.want/2 {
			t.Errorf("enhancedMSE(%d, %d) = %v, want %v", tt.a, tt.b, got, tt.want/2)
		}
	}
}

func TestSimilarityOf(t *testing.T) {
	for _, tt := range []struct{ mse, want float64 }{
		{0, 1}, {2, 1}, {21, 0.95}, {40, 0.9}, {420, 0}, {1e6, 0},
	} {
		if got := similarityOf(tt.mse); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("similarityOf(%v) = %v, want %v", tt.mse, got, tt.want)
		}
	}
}

func mustPNG(t *testing.T, name string) image.Image {
	t.Helper()
	img, err := ReadPNG("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustNeedle(t *testing.T, name string) *Needle {
	t.Helper()
	n, err := LoadNeedle(os.DirFS("testdata"), name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// shifted moves img by d over a black screen of the same size.
func shifted(img image.Image, d image.Point) image.Image {
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	draw.Draw(out, img.Bounds().Add(d), img, img.Bounds().Min, draw.Src)
	return out
}

// mapped changes every pixel of img through f.
func mapped(img image.Image, f func(x, y int, c Colour) Colour) image.Image {
	out := image.NewRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			c := f(x, y, At(img, x, y))
			out.SetRGBA(x, y, color.RGBA{c.R, c.G, c.B, 255})
		}
	}
	return out
}

// scribble paints white over r.
func scribble(img image.Image, r image.Rectangle) image.Image {
	return mapped(img, func(x, y int, c Colour) Colour {
		if image.Pt(x, y).In(r) {
			return Colour{255, 255, 255}
		}
		return c
	})
}

// TestNeedleMatch matches needles cut from QEMU screendumps of SeaBIOS (std VGA, text mode
// 720x400) against those screens and changed copies of them.
func TestNeedleMatch(t *testing.T) {
	prompt, menu := mustPNG(t, "seabios-prompt.png"), mustPNG(t, "seabios-menu.png")
	brighter := mapped(prompt, func(_, _ int, c Colour) Colour { // the text's gray drawn 14 lighter
		if c.R > 0 {
			c = Colour{c.R + 14, c.G + 14, c.B + 14}
		}
		return c
	})
	dimmer := mapped(prompt, func(_, _ int, c Colour) Colour { // the text at half brightness
		return Colour{c.R / 2, c.G / 2, c.B / 2}
	})
	escPrompt, sel, banner := mustNeedle(t, "seabios-esc-prompt"), mustNeedle(t, "seabios-select"), mustNeedle(t, "seabios-banner")
	bannerNoExclude, err := NewNeedle("banner-no-exclude", banner.Areas[:1], banner.Image)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		needle *Needle
		screen image.Image
		ok     bool
		at     image.Point // where the first area was found, when ok
	}{
		{"the prompt where it was cut", escPrompt, prompt, true, image.Pt(0, 30)},
		{"the prompt on the menu screen", escPrompt, menu, true, image.Pt(0, 30)},
		{"the menu's title is not on the prompt screen", sel, prompt, false, image.Point{}},
		{"the menu's title on the menu screen", sel, menu, true, image.Pt(0, 62)},
		{"moved within the margin", escPrompt, shifted(prompt, image.Pt(7, 12)), true, image.Pt(7, 42)},
		{"moved beyond the margin", escPrompt, shifted(prompt, image.Pt(0, 60)), false, image.Point{}},
		{"text a shade lighter", escPrompt, brighter, true, image.Pt(0, 30)},
		{"one character changed", escPrompt, scribble(prompt, image.Rect(9*6, 32, 9*7, 48)), false, image.Point{}},
		{"text at half brightness", escPrompt, dimmer, false, image.Point{}},
		{"a whole-screen needle with an excluded area", banner, menu, true, image.Pt(0, 0)},
		{"the excluded area changed", banner, scribble(menu, image.Rect(80, 2, 300, 14)), true, image.Pt(0, 0)},
		{"the matched part changed", banner, scribble(menu, image.Rect(0, 2, 60, 14)), false, image.Point{}},
		{"without the exclusion the change counts", bannerNoExclude, scribble(menu, image.Rect(80, 2, 300, 14)), false, image.Point{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.needle.Match(tt.screen)
			t.Logf("similarity %.4f at %v", res.Similarity(), res.Areas[0].At)
			if res.OK != tt.ok {
				t.Fatalf("OK = %v (similarity %.4f), want %v", res.OK, res.Similarity(), tt.ok)
			}
			if tt.ok && res.Areas[0].At != tt.at {
				t.Errorf("found at %v, want %v", res.Areas[0].At, tt.at)
			}
		})
	}
}

func TestLoadNeedle(t *testing.T) {
	pngOf := func(w, h int) []byte {
		_, p, err := (&Needle{Image: image.NewRGBA(image.Rect(0, 0, w, h))}).Files()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fsys := fstest.MapFS{
		"crop.json":    {Data: []byte(`{"area":[{"xpos":10,"ypos":20,"width":4,"height":3}]}`)},
		"crop.png":     {Data: pngOf(4, 3)},
		"full.json":    {Data: []byte(`{"area":[{"xpos":10,"ypos":20,"width":4,"height":3,"match":90,"margin":5}],"tags":["x"]}`)},
		"full.png":     {Data: pngOf(64, 48)},
		"unknown.json": {Data: []byte(`{"area":[{"xpos":0,"ypos":0,"width":4,"height":3,"colour":1}]}`)},
		"unknown.png":  {Data: pngOf(4, 3)},
		"exclude.json": {Data: []byte(`{"area":[{"xpos":0,"ypos":0,"width":4,"height":3,"type":"exclude"}]}`)},
		"exclude.png":  {Data: pngOf(4, 3)},
		"ocr.json":     {Data: []byte(`{"area":[{"xpos":0,"ypos":0,"width":4,"height":3,"type":"ocr"}]}`)},
		"ocr.png":      {Data: pngOf(4, 3)},
		"size.json":    {Data: []byte(`{"area":[{"xpos":10,"ypos":20,"width":4,"height":3}]}`)},
		"size.png":     {Data: pngOf(5, 3)},
		"empty.json":   {Data: []byte(`{"area":[{"xpos":0,"ypos":0,"width":0,"height":3}]}`)},
		"empty.png":    {Data: pngOf(4, 3)},
		"level.json":   {Data: []byte(`{"area":[{"xpos":0,"ypos":0,"width":4,"height":3,"match":101}]}`)},
		"level.png":    {Data: pngOf(4, 3)},
		"nopng.json":   {Data: []byte(`{"area":[{"xpos":0,"ypos":0,"width":4,"height":3}]}`)},
		"badpng.json":  {Data: []byte(`{"area":[{"xpos":0,"ypos":0,"width":4,"height":3}]}`)},
		"badpng.png":   {Data: []byte("P6\n")},
	}
	for _, tt := range []struct {
		name string
		crop image.Rectangle
		area Area
		err  string
	}{
		{"crop", image.Rect(10, 20, 14, 23), Area{10, 20, 4, 3, "match", 96, 50}, ""},
		{"full", image.Rectangle{}, Area{10, 20, 4, 3, "match", 90, 5}, ""},
		{"unknown", image.Rectangle{}, Area{}, `unknown field "colour"`},
		{"exclude", image.Rectangle{}, Area{}, "no match area"},
		{"ocr", image.Rectangle{}, Area{}, `type "ocr"`},
		{"size", image.Rectangle{}, Area{}, "neither holds the areas"},
		{"empty", image.Rectangle{}, Area{}, "empty or negative"},
		{"level", image.Rectangle{}, Area{}, "match 101"},
		{"nopng", image.Rectangle{}, Area{}, "nopng.png"},
		{"badpng", image.Rectangle{}, Area{}, "badpng.png"},
		{"missing", image.Rectangle{}, Area{}, "missing.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := LoadNeedle(fsys, tt.name)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("LoadNeedle error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Crop != tt.crop || len(n.Areas) != 1 || n.Areas[0] != tt.area {
				t.Errorf("needle crop %v areas %+v, want %v [%+v]", n.Crop, n.Areas, tt.crop, tt.area)
			}
		})
	}
	_, err := LoadNeedle(fsys, "ocr")
	if !errors.Is(err, ErrNeedle) {
		t.Errorf("a malformed needle's error %v is not ErrNeedle", err)
	}
}

// TestCropNeedle: a needle cut from a screen matches that screen where it was cut, after a trip
// through its files.
func TestCropNeedle(t *testing.T) {
	menu := mustPNG(t, "seabios-menu.png")
	n, err := CropNeedle("device", menu, image.Rect(0, 94, 430, 128), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	js, p, err := n.Files()
	if err != nil {
		t.Fatal(err)
	}
	back, err := LoadNeedle(fstest.MapFS{"device.json": {Data: js}, "device.png": {Data: p}}, "device")
	if err != nil {
		t.Fatal(err)
	}
	if res := back.Match(menu); !res.OK || res.Similarity() != 1 || res.Areas[0].At != image.Pt(0, 94) {
		t.Errorf("match = %+v", res)
	}
}
