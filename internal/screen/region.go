package screen

import (
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"
)

// Colour is a 24-bit RGB colour, as a screen shows it.
type Colour struct{ R, G, B uint8 }

// ParseColour reads "#rrggbb" (or "rrggbb").
func ParseColour(s string) (Colour, error) {
	h := strings.TrimPrefix(s, "#")
	if len(h) != 6 {
		return Colour{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return Colour{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	return Colour{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}

func (c Colour) String() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// Near says whether every channel of c is within tol of want.
func (c Colour) Near(want Colour, tol uint8) bool {
	return absDiff(c.R, want.R) <= tol && absDiff(c.G, want.G) <= tol && absDiff(c.B, want.B) <= tol
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

// At is the colour of img's pixel at (x, y), alpha ignored.
func At(img image.Image, x, y int) Colour {
	switch m := img.(type) {
	case *image.RGBA:
		i := m.PixOffset(x, y)
		return Colour{m.Pix[i], m.Pix[i+1], m.Pix[i+2]}
	case *image.NRGBA:
		i := m.PixOffset(x, y)
		return Colour{m.Pix[i], m.Pix[i+1], m.Pix[i+2]}
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return Colour{c.R, c.G, c.B}
}

// Fraction is the share (0..1) of the pixels of r, clipped to img, whose colour is within tol of
// want in every channel; 0 when r and img do not overlap. "95% of the panel is #2e3440 ±8" is
// Fraction(img, panel, c, 8) >= 0.95.
func Fraction(img image.Image, r image.Rectangle, want Colour, tol uint8) float64 {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return 0
	}
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if At(img, x, y).Near(want, tol) {
				n++
			}
		}
	}
	return float64(n) / float64(r.Dx()*r.Dy())
}

// Dominant is the most frequent exact colour of r (clipped to img) and its share of r; ties go
// to the smaller colour value, so the answer does not depend on map order. An empty region gives
// black and 0.
func Dominant(img image.Image, r image.Rectangle) (Colour, float64) {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return Colour{}, 0
	}
	counts := map[Colour]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			counts[At(img, x, y)]++
		}
	}
	var best Colour
	bestN := -1
	for c, n := range counts {
		if n > bestN || n == bestN && c.key() < best.key() {
			best, bestN = c, n
		}
	}
	return best, float64(bestN) / float64(r.Dx()*r.Dy())
}

func (c Colour) key() uint32 { return uint32(c.R)<<16 | uint32(c.G)<<8 | uint32(c.B) }

// FindRun looks in the rows of band (clipped to img), top to bottom, for a horizontal run of at
// least minWidth pixels each within tol of want: the mark a terminal paints with a coloured
// background. It returns the run's first pixel and its full width in that row, or ok false.
func FindRun(img image.Image, band image.Rectangle, want Colour, tol uint8, minWidth int) (at image.Point, width int, ok bool) {
	band = band.Intersect(img.Bounds())
	if minWidth < 1 {
		minWidth = 1
	}
	for y := band.Min.Y; y < band.Max.Y; y++ {
		run := 0
		for x := band.Min.X; x <= band.Max.X; x++ {
			if x < band.Max.X && At(img, x, y).Near(want, tol) {
				run++
				continue
			}
			if run >= minWidth {
				return image.Pt(x-run, y), run, true
			}
			run = 0
		}
	}
	return image.Point{}, 0, false
}

// Changed is the smallest rectangle holding every pixel that differs between a and b (both in
// a's coordinates), empty when they are equal; b's whole bounds when the sizes differ.
func Changed(a, b image.Image) image.Rectangle {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Size() != bb.Size() {
		return bb
	}
	var r image.Rectangle
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			if At(a, ab.Min.X+x, ab.Min.Y+y) != At(b, bb.Min.X+x, bb.Min.Y+y) {
				r = r.Union(image.Rect(ab.Min.X+x, ab.Min.Y+y, ab.Min.X+x+1, ab.Min.Y+y+1))
			}
		}
	}
	return r
}
