package screen

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"testing"
)

// encodePPM writes img as QEMU's ppm_save does: "P6\n<w> <h>\n255\n" and the raster.
func encodePPM(img image.Image) []byte {
	b := img.Bounds()
	var out bytes.Buffer
	fmt.Fprintf(&out, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := At(img, x, y)
			out.Write([]byte{c.R, c.G, c.B})
		}
	}
	return out.Bytes()
}

func TestDecodePPM(t *testing.T) {
	raster := string([]byte{1, 2, 3, 4, 5, 6})
	for _, tt := range []struct {
		name string
		in   string
		want []Colour // nil: an error is wanted
		err  string
	}{
		{"qemu's header", "P6\n2 1\n255\n" + raster, []Colour{{1, 2, 3}, {4, 5, 6}}, ""},
		{"comments and other whitespace", "P6 # made by hand\n2\t1\r\n# maxval next\n255 " + raster, []Colour{{1, 2, 3}, {4, 5, 6}}, ""},
		{"a raster byte that looks like whitespace", "P6\n1 1\n255\n\n\n\n", []Colour{{10, 10, 10}}, ""},
		{"ascii ppm", "P3\n1 1\n255\n1 2 3\n", nil, "not a binary PPM"},
		{"16-bit samples", "P6\n1 1\n65535\n" + raster, nil, "maxval 65535"},
		{"short raster", "P6\n2 1\n255\n" + raster[:5], nil, "raster has 5 bytes, want 6"},
		{"zero width", "P6\n0 1\n255\n", nil, "size 0x1"},
		{"huge", "P6\n100000 100000\n255\n", nil, "size 100000x100000"},
		{"number overflow", "P6\n99999999999999999999999 1\n255\n", nil, "number too large"},
		{"no whitespace after maxval", "P6\n1 1\n255x" + raster, nil, "want whitespace"},
		{"missing number", "P6\n1 x\n255\n", nil, "want a number"},
		{"empty", "", nil, "not a binary PPM"},
		{"header cut short", "P6\n1 1\n25", nil, "EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img, err := DecodePPM(strings.NewReader(tt.in))
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("DecodePPM error = %v, want one containing %q", err, tt.err)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("error %v is not ErrFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds(); got != image.Rect(0, 0, len(tt.want), 1) {
				t.Fatalf("bounds %v", got)
			}
			for x, c := range tt.want {
				if got := At(img, x, 0); got != c {
					t.Errorf("pixel %d = %v, want %v", x, got, c)
				}
				if a := img.RGBAAt(x, 0).A; a != 0xff {
					t.Errorf("pixel %d alpha %d, want opaque", x, a)
				}
			}
		})
	}
}

// TestPNGRoundTrip: a frame saved as PNG reads back with the same colours (red stays red, the
// fault of QEMU 7.2's own PNG writer).
func TestPNGRoundTrip(t *testing.T) {
	img, err := DecodePPM(bytes.NewReader(append([]byte("P6\n3 1\n255\n"), 255, 0, 0, 0, 255, 0, 0, 0, 255)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "a", "frame.png")
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	back, err := ReadPNG(path)
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range []Colour{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}} {
		if got := At(back, x, 0); got != want {
			t.Errorf("pixel %d = %v, want %v", x, got, want)
		}
	}
}

func TestArtifactDir(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GENAI_TEST_ARTIFACTS" {
				return v
			}
			return ""
		}
	}
	if got := ArtifactDir(env("/art"), "/fallback", "TestX/std"); got != "/art/TestX/std" {
		t.Errorf("with the variable: %s", got)
	}
	if got := ArtifactDir(env(""), "/fallback", "TestX"); got != "/fallback/TestX" {
		t.Errorf("without it: %s", got)
	}
}

func FuzzDecodePPM(f *testing.F) {
	f.Add([]byte("P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06"))
	f.Add([]byte("P6 #c\n1\n1 255 abc"))
	f.Add([]byte("P6\n0 0\n255\n"))
	f.Add(encodePPM(image.NewRGBA(image.Rect(0, 0, 4, 3))))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodePPM(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What decodes must encode back to a frame that decodes to the same picture.
		again, err := DecodePPM(bytes.NewReader(encodePPM(img)))
		if err != nil {
			t.Fatalf("re-encoded frame: %v", err)
		}
		if !bytes.Equal(img.Pix, again.Pix) || img.Bounds() != again.Bounds() {
			t.Fatal("round trip changed the picture")
		}
	})
}
