package screen

import (
	"image"
	"math"
)

// The template match follows os-autoinst's search_TEMPLATE (ppmclibs/tinycv_impl.cc): both
// pictures go to grayscale and through a 3x3 Gaussian blur, the needle is searched for by sum of
// squared differences within a margin around where it is expected, and the error at the best
// place is mapped to a similarity in 0..1 of which 0.96 is "good enough" (ppmclibs/tinycv.pm).

// gray is an 8-bit grayscale plane.
type gray struct {
	w, h int
	p    []uint8
}

func (g *gray) at(x, y int) uint8 { return g.p[y*g.w+x] }

// toGray converts img (its bounds moved to the origin) with OpenCV's COLOR_BGR2GRAY weights,
// Y = 0.299 R + 0.587 G + 0.114 B, in its 14-bit fixed point with rounding (imgproc's
// color_rgb: R2Y 4899, G2Y 9617, B2Y 1868).
func toGray(img image.Image) *gray {
	b := img.Bounds()
	g := &gray{w: b.Dx(), h: b.Dy(), p: make([]uint8, b.Dx()*b.Dy())}
	for y := 0; y < g.h; y++ {
		for x := 0; x < g.w; x++ {
			c := At(img, b.Min.X+x, b.Min.Y+y)
			g.p[y*g.w+x] = uint8((uint32(c.R)*4899 + uint32(c.G)*9617 + uint32(c.B)*1868 + 1<<13) >> 14)
		}
	}
	return g
}

// blur3 is OpenCV's GaussianBlur with a 3x3 kernel and sigma 0, whose kernel is then the fixed
// [1 2 1]/4 in each direction (getGaussianKernel's table for ksize 3), with the default border
// BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba).
func blur3(g *gray) *gray {
	if g.w == 0 || g.h == 0 {
		return g
	}
	reflect := func(i, n int) int {
		if n == 1 {
			return 0
		}
		if i < 0 {
			return -i
		}
		if i >= n {
			return 2*n - 2 - i
		}
		return i
	}
	tmp := make([]uint16, len(g.p)) // horizontal pass, sums up to 4*255
	for y := 0; y < g.h; y++ {
		row := g.p[y*g.w : (y+1)*g.w]
		for x := 0; x < g.w; x++ {
			tmp[y*g.w+x] = uint16(row[reflect(x-1, g.w)]) + 2*uint16(row[x]) + uint16(row[reflect(x+1, g.w)])
		}
	}
	out := &gray{w: g.w, h: g.h, p: make([]uint8, len(g.p))}
	for y := 0; y < g.h; y++ {
		up, down := reflect(y-1, g.h)*g.w, reflect(y+1, g.h)*g.w
		for x := 0; x < g.w; x++ {
			s := uint32(tmp[up+x]) + 2*uint32(tmp[y*g.w+x]) + uint32(tmp[down+x])
			out.p[y*g.w+x] = uint8((s + 8) >> 4) // /16, rounded
		}
	}
	return out
}

// sqdiff is OpenCV's TM_SQDIFF at one place: the sum of squared differences between the
// template t and the scene s with t's top-left corner at (sx, sy). It stops early once the sum
// passes limit, since such a place cannot be among the best.
func sqdiff(s *gray, sx, sy int, t *gray, tx, ty, w, h int, limit int64) int64 {
	var sum int64
	for y := 0; y < h; y++ {
		srow := s.p[(sy+y)*s.w+sx : (sy+y)*s.w+sx+w]
		trow := t.p[(ty+y)*t.w+tx : (ty+y)*t.w+tx+w]
		for x, a := range srow {
			d := int64(a) - int64(trow[x])
			sum += d * d
		}
		if sum > limit {
			return sum
		}
	}
	return sum
}

// enhancedMSE is the mean squared error that ignores slight changes of shade: a difference below
// 16 counts as none, and the others are taken between the values quantised to 16 levels
// (tinycv_impl.cc's enhancedMSE before os-autoinst commit 77237a0a, which dropped the
// quantisation in 2021 to make matches stricter; fonts anti-aliased differently by another
// renderer are why we keep it).
func enhancedMSE(s *gray, sx, sy int, t *gray, tx, ty, w, h int) float64 {
	var sse float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a, b := int(s.at(sx+x, sy+y)), int(t.at(tx+x, ty+y))
			if a-b < 16 && b-a < 16 {
				continue
			}
			d := (math.Round(float64(a)/16) - math.Round(float64(b)/16)) * 16
			sse += d * d
		}
	}
	return sse / float64(w*h)
}

// similarityOf maps the error to 0..1 as tinycv does: MSE 40 gives 0.9 and MSE 2 gives 1.
func similarityOf(mse float64) float64 {
	return min(1, max(0, 0.9+(40-mse)/380))
}

// search finds the w×h block of the template t at (tx, ty) in the scene s, looking within margin
// pixels around (x, y). It returns where it matched best and the similarity there. As in
// search_TEMPLATE, the place chosen is, among those whose squared error is within 10 of the least
// (bounded above by the error at the expected place), the one closest to the expected place.
func search(s *gray, x, y int, t *gray, tx, ty, w, h, margin int) (image.Point, float64) {
	if w <= 0 || h <= 0 || x < 0 || y < 0 || x+w > s.w || y+h > s.h || tx < 0 || ty < 0 || tx+w > t.w || ty+h > t.h {
		return image.Point{}, 0 // out of range: no match, as tinycv answers
	}
	x0, y0 := max(0, x-margin), max(0, y-margin)
	x1, y1 := min(s.w, x+w+margin)-w, min(s.h, y+h+margin)-h // last top-left corners to try
	center := sqdiff(s, x, y, t, tx, ty, w, h, math.MaxInt64)
	if center == 0 {
		return image.Pt(x, y), 1
	}
	// minVec: keep the places within 10 of the running least.
	limit := center + 10
	var mins []image.Point
	for py := y0; py <= y1; py++ {
		for px := x0; px <= x1; px++ {
			v := sqdiff(s, px, py, t, tx, ty, w, h, limit)
			if v > limit {
				continue
			}
			if v+10 < limit {
				limit = v + 10
				mins = mins[:0]
			}
			mins = append(mins, image.Pt(px, py))
		}
	}
	best := image.Pt(x, y)
	bestD := math.MaxInt
	for _, p := range mins {
		if d := (p.X-x)*(p.X-x) + (p.Y-y)*(p.Y-y); d < bestD {
			best, bestD = p, d
		}
	}
	return best, similarityOf(enhancedMSE(s, best.X, best.Y, t, tx, ty, w, h))
}
