package screen

import (
	"context"
	"errors"
	"image"
	"image/color"
	"testing"
	"time"
)

func frame(n int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 100, 10))
	for i := 0; i < n; i++ { // n pixels lit: frames differ by how many
		img.Set(i%100, i/100, color.White)
	}
	return img
}

func TestDiff(t *testing.T) {
	for _, tt := range []struct {
		name string
		a, b image.Image
		want float64
	}{
		{"equal", frame(5), frame(5), 0},
		{"one pixel of a thousand", frame(5), frame(6), 0.001},
		{"all", frame(0), frame(1000), 1},
		{"other sizes", frame(0), image.NewRGBA(image.Rect(0, 0, 10, 10)), 1},
		{"shifted bounds compare by position", frame(5), frame(5).(*image.RGBA).SubImage(image.Rect(0, 0, 100, 10)), 0},
	} {
		if got := Diff(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Diff = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// grabber hands out frames in order, then the last one again and again.
func grabber(frames ...image.Image) (Grab, *int) {
	n := 0
	return func(ctx context.Context) (image.Image, error) {
		f := frames[min(n, len(frames)-1)]
		n++
		if f == nil {
			return nil, errors.New("no display")
		}
		return f, nil
	}, &n
}

func TestWaitStill(t *testing.T) {
	for _, tt := range []struct {
		name      string
		frames    []image.Image
		threshold float64
		grabs     int   // pictures taken until it returned
		want      int   // lit pixels of the frame returned (-1: none)
		err       error // nil, ErrNotStill, or any error (errAny)
	}{
		{"settles on the third picture", []image.Image{frame(1), frame(2), frame(2)}, 0, 3, 2, nil},
		{"a change below the threshold is still", []image.Image{frame(1), frame(2)}, 0.001, 2, 2, nil},
		{"a change at the threshold is not", []image.Image{frame(1), frame(3), frame(5), frame(5)}, 0.001, 4, 5, nil},
		{"never settles", func() []image.Image {
			var fs []image.Image
			for i := range 100 {
				fs = append(fs, frame(i*7))
			}
			return fs
		}(), 0, -1, -1, ErrNotStill},
		{"the screen cannot be taken", []image.Image{frame(1), nil}, 0, 2, 1, errAny},
	} {
		t.Run(tt.name, func(t *testing.T) {
			grab, n := grabber(tt.frames...)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			img, err := WaitStill(ctx, grab, Still{Interval: 10 * time.Millisecond, Threshold: tt.threshold})
			switch {
			case tt.err == nil && err != nil:
				t.Fatal(err)
			case tt.err == ErrNotStill && !errors.Is(err, ErrNotStill):
				t.Fatalf("error %v, want ErrNotStill", err)
			case tt.err == errAny && (err == nil || errors.Is(err, ErrNotStill)):
				t.Fatalf("error %v, want the grab's", err)
			}
			if tt.grabs >= 0 && *n != tt.grabs {
				t.Errorf("took %d pictures, want %d", *n, tt.grabs)
			}
			if tt.want >= 0 && (img == nil || Diff(img, frame(tt.want)) != 0) {
				t.Errorf("returned a frame other than frame(%d)", tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestWaitUntil(t *testing.T) {
	lit := func(n int) func(image.Image) bool {
		return func(img image.Image) bool { return Diff(img, frame(n)) == 0 }
	}
	for _, tt := range []struct {
		name   string
		frames []image.Image
		ok     func(image.Image) bool
		grabs  int
		err    bool
	}{
		{"shown at once", []image.Image{frame(3)}, lit(3), 1, false},
		{"shown on the third picture", []image.Image{frame(1), frame(2), frame(3)}, lit(3), 3, false},
		{"never shown", []image.Image{frame(1)}, lit(3), -1, true},
		{"the screen cannot be taken", []image.Image{frame(1), nil}, lit(3), 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			grab, n := grabber(tt.frames...)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			img, err := WaitUntil(ctx, grab, 10*time.Millisecond, tt.ok)
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want one: %v", err, tt.err)
			}
			if !tt.err && !tt.ok(img) {
				t.Error("returned a picture that does not show it")
			}
			if tt.err && img == nil {
				t.Error("no last picture to save")
			}
			if tt.grabs >= 0 && *n != tt.grabs {
				t.Errorf("took %d pictures, want %d", *n, tt.grabs)
			}
		})
	}
}
