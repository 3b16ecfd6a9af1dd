package screen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io/fs"
)

// Needle is a picture to find on the screen, in the shape of openQA's needles
// (os-autoinst doc/needles.txt): a PNG and a JSON file of the same name whose "area" list says
// which rectangles of the screen to compare ("match") or to ignore ("exclude").
type Needle struct {
	Name  string
	Areas []Area
	// Image holds the areas at their screen positions, or, when Crop is set, is the crop of the
	// screen that spans every area (its top-left corner is Crop.Min on the screen).
	Image image.Image
	Crop  image.Rectangle
}

// Area is one rectangle of a needle, with openQA's JSON names. Match is the least similarity
// in percent (default 96, ppmclibs/tinycv.pm); Margin how far from its place, in pixels, the
// area may be found (default 50, needle.pm).
type Area struct {
	X      int    `json:"xpos"`
	Y      int    `json:"ypos"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Type   string `json:"type,omitempty"` // "match" (default) or "exclude"
	Match  int    `json:"match,omitempty"`
	Margin int    `json:"margin,omitempty"`
}

// Defaults from os-autoinst.
const (
	DefaultMatch  = 96 // percent: ppmclibs/tinycv.pm, "A 96% match is ok"
	DefaultMargin = 50 // pixels: needle.pm
)

// Rect is the area's rectangle on the screen.
func (a Area) Rect() image.Rectangle { return image.Rect(a.X, a.Y, a.X+a.Width, a.Y+a.Height) }

// needleFile is the JSON file; tags are openQA's and kept only to read its needles unchanged.
type needleFile struct {
	Area       []Area   `json:"area"`
	Tags       []string `json:"tags,omitempty"`
	Properties []any    `json:"properties,omitempty"`
}

// ErrNeedle is a needle whose files are missing or malformed; the caller fixes its testdata.
var ErrNeedle = errors.New("screen: bad needle")

// LoadNeedle reads name.json and name.png from fsys. The PNG is either a whole screenshot
// holding the areas at their positions (openQA's form) or exactly the crop spanning all areas.
func LoadNeedle(fsys fs.FS, name string) (*Needle, error) {
	js, err := fs.ReadFile(fsys, name+".json")
	if err != nil {
		return nil, fmt.Errorf("needle %s: %w", name, err)
	}
	var nf needleFile
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&nf); err != nil {
		return nil, fmt.Errorf("%w %s.json: %w", ErrNeedle, name, err)
	}
	pb, err := fs.ReadFile(fsys, name+".png")
	if err != nil {
		return nil, fmt.Errorf("needle %s: %w", name, err)
	}
	img, err := png.Decode(bytes.NewReader(pb))
	if err != nil {
		return nil, fmt.Errorf("%w %s.png: %w", ErrNeedle, name, err)
	}
	return NewNeedle(name, nf.Area, img)
}

// NewNeedle checks areas, fills in their defaults and places img (a screenshot or the crop of
// the areas, see LoadNeedle).
func NewNeedle(name string, areas []Area, img image.Image) (*Needle, error) {
	n := &Needle{Name: name, Image: img}
	var span image.Rectangle
	matches := 0
	for i, a := range areas {
		switch a.Type {
		case "":
			a.Type = "match"
		case "match", "exclude":
		default:
			return nil, fmt.Errorf("%w %s: area %d: type %q (want match or exclude)", ErrNeedle, name, i, a.Type)
		}
		if a.Width <= 0 || a.Height <= 0 || a.X < 0 || a.Y < 0 {
			return nil, fmt.Errorf("%w %s: area %d: empty or negative rectangle %v", ErrNeedle, name, i, a.Rect())
		}
		if a.Match == 0 {
			a.Match = DefaultMatch
		}
		if a.Match < 0 || a.Match > 100 {
			return nil, fmt.Errorf("%w %s: area %d: match %d (want 1..100)", ErrNeedle, name, i, a.Match)
		}
		if a.Margin == 0 {
			a.Margin = DefaultMargin
		}
		if a.Type == "match" {
			matches++
		}
		span = span.Union(a.Rect())
		n.Areas = append(n.Areas, a)
	}
	if matches == 0 { // needle.pm: "one match is mandatory"
		return nil, fmt.Errorf("%w %s: no match area", ErrNeedle, name)
	}
	switch b := img.Bounds(); {
	case span.In(b): // a whole screenshot (or a crop at the origin, the same thing)
	case b.Size() == span.Size():
		n.Crop = span
	default:
		return nil, fmt.Errorf("%w %s: picture %v neither holds the areas %v nor is their crop", ErrNeedle, name, b, span)
	}
	return n, nil
}

// AreaResult is how one match area compared.
type AreaResult struct {
	Area       Area
	At         image.Point // where it was found best (its top-left corner on the screen)
	Similarity float64     // 0..1
	OK         bool        // Similarity >= Area.Match/100
}

// Result is a needle's comparison with a screen: OK when every match area is.
type Result struct {
	OK    bool
	Areas []AreaResult
}

// Similarity is the least similarity of the areas.
func (r Result) Similarity() float64 {
	s := 1.0
	for _, a := range r.Areas {
		s = min(s, a.Similarity)
	}
	return s
}

// excludeColour is what exclude areas are painted with on both pictures before comparing
// (tinycv_impl.cc's image_replacerect: CV_RGB(0, 255, 0)).
var excludeColour = color.RGBA{0, 255, 0, 255}

// Match compares the needle with the screen scr.
func (n *Needle) Match(scr image.Image) Result {
	ndl := n.Image
	off := n.Crop.Min // needle picture coordinates = screen coordinates - off
	if n.hasExclude() {
		s, m := cloneRGBA(scr), cloneRGBA(ndl)
		for _, a := range n.Areas {
			if a.Type == "exclude" {
				r := a.Rect()
				draw.Draw(s, r.Add(s.Bounds().Min), image.NewUniform(excludeColour), image.Point{}, draw.Src)
				draw.Draw(m, r.Sub(off).Add(m.Bounds().Min), image.NewUniform(excludeColour), image.Point{}, draw.Src)
			}
		}
		scr, ndl = s, m
	}
	sg, ng := blur3(toGray(scr)), blur3(toGray(ndl))
	res := Result{OK: true}
	for _, a := range n.Areas {
		if a.Type != "match" {
			continue
		}
		at, sim := search(sg, a.X, a.Y, ng, a.X-off.X, a.Y-off.Y, a.Width, a.Height, a.Margin)
		ok := sim >= float64(a.Match)/100
		res.OK = res.OK && ok
		res.Areas = append(res.Areas, AreaResult{Area: a, At: at, Similarity: sim, OK: ok})
	}
	return res
}

func (n *Needle) hasExclude() bool {
	for _, a := range n.Areas {
		if a.Type == "exclude" {
			return true
		}
	}
	return false
}

func cloneRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	c := image.NewRGBA(b)
	draw.Draw(c, b, img, b.Min, draw.Src)
	return c
}

// CropNeedle makes a needle of one match area from a screenshot: the crop of r, for saving
// with SaveNeedle as a test's reference.
func CropNeedle(name string, scr image.Image, r image.Rectangle, match, margin int) (*Needle, error) {
	r = r.Intersect(scr.Bounds())
	crop := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(crop, crop.Bounds(), scr, r.Min, draw.Src)
	return NewNeedle(name, []Area{{X: r.Min.X - scr.Bounds().Min.X, Y: r.Min.Y - scr.Bounds().Min.Y, Width: r.Dx(), Height: r.Dy(), Match: match, Margin: margin}}, crop)
}

// Files are the needle's JSON and PNG, as LoadNeedle reads them.
func (n *Needle) Files() (jsonData, pngData []byte, err error) {
	jsonData, err = json.MarshalIndent(needleFile{Area: n.Areas, Tags: []string{n.Name}}, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, n.Image); err != nil {
		return nil, nil, err
	}
	return append(jsonData, '\n'), b.Bytes(), nil
}
