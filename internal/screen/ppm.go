// Package screen looks at pictures of a guest's screen: it decodes the PPM frames QEMU's
// screendump writes, saves them as PNG, and checks them: the colour of a region, a run of one
// colour in a row, and a tolerant template match in the style of openQA's needles.
package screen

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
)

// MaxSide bounds a frame's width and height: far above any display QEMU offers (virtio-gpu's
// limit is 16384), and low enough that a bad header cannot ask for gigabytes.
const MaxSide = 16384

// ErrFormat is a frame that is not a binary PPM with 8-bit samples; the caller asked QEMU for
// another format or read a file that is not a frame.
var ErrFormat = errors.New("screen: not a binary PPM (P6, maxval 255)")

// DecodePPM reads one binary PPM (netpbm's ppm(5): "P6", width, height, maxval, each separated
// by whitespace and possibly "#" comments, then one whitespace byte and the raster, 3 bytes a
// pixel, rows top to bottom). Only maxval 255 is accepted: QEMU's ppm_save writes nothing else.
func DecodePPM(r io.Reader) (*image.RGBA, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, 2)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "P6" {
		return nil, ErrFormat
	}
	var v [3]int // width, height, maxval
	for i := range v {
		n, err := headerInt(br)
		if err != nil {
			return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
		}
		v[i] = n
	}
	w, h, maxval := v[0], v[1], v[2]
	if maxval != 255 {
		return nil, fmt.Errorf("%w: maxval %d", ErrFormat, maxval)
	}
	if w <= 0 || h <= 0 || w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("%w: size %dx%d", ErrFormat, w, h)
	}
	// headerInt consumed the single whitespace byte after maxval; the raster follows. It is read
	// before the image is made, so that a short file costs no more than its own size.
	raster, err := io.ReadAll(io.LimitReader(br, int64(w)*int64(h)*3))
	if err != nil {
		return nil, fmt.Errorf("screen: ppm raster: %w", err)
	}
	if len(raster) != w*h*3 {
		return nil, fmt.Errorf("%w: raster has %d bytes, want %d for %dx%d", ErrFormat, len(raster), w*h*3, w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i < len(raster); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = raster[i], raster[i+1], raster[i+2], 0xff
	}
	return img, nil
}

// headerInt skips whitespace and comments, reads a decimal number and the one byte after it,
// which must be whitespace.
func headerInt(br *bufio.Reader) (int, error) {
	c, err := br.ReadByte()
	for err == nil && (isSpace(c) || c == '#') {
		if c == '#' { // a comment runs to the end of the line
			for err == nil && c != '\n' && c != '\r' {
				c, err = br.ReadByte()
			}
		}
		if err == nil {
			c, err = br.ReadByte()
		}
	}
	if err != nil {
		return 0, err
	}
	n, digits := 0, 0
	for ; err == nil && c >= '0' && c <= '9'; c, err = br.ReadByte() {
		if n > MaxSide*MaxSide { // any larger is refused anyway; stop before it overflows
			return 0, errors.New("number too large")
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("want a number, found %q", c)
	}
	if err != nil {
		return 0, err
	}
	if !isSpace(c) {
		return 0, fmt.Errorf("want whitespace after %d, found %q", n, c)
	}
	return n, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// ReadPPM decodes the PPM file at path.
func ReadPPM(path string) (*image.RGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := DecodePPM(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// WritePNG saves img as a PNG file at path, making its folder.
func WritePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// ReadPNG decodes the PNG file at path.
func ReadPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// ArtifactDir is where a test keeps what it saw (screenshots) after it ends: $GENAI_TEST_ARTIFACTS
// (read through getenv) or else fallback, then the test's name, with "/" of subtests kept as
// folders. The caller names it in its log.
func ArtifactDir(getenv func(string) string, fallback, testName string) string {
	root := getenv("GENAI_TEST_ARTIFACTS")
	if root == "" {
		root = fallback
	}
	return filepath.Join(root, filepath.FromSlash(testName))
}
