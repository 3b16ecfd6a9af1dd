package screen

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"
)

// Diff is the share (0..1) of pixels that differ between a and b; 1 when their sizes differ
// (a change of display mode is a change of everything).
func Diff(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Size() != bb.Size() {
		return 1
	}
	if ab.Empty() {
		return 0
	}
	n := 0
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			if At(a, ab.Min.X+x, ab.Min.Y+y) != At(b, bb.Min.X+x, bb.Min.Y+y) {
				n++
			}
		}
	}
	return float64(n) / float64(ab.Dx()*ab.Dy())
}

// Grab takes one picture of the screen (a qemu.Machine's Screen).
type Grab func(ctx context.Context) (image.Image, error)

// Still says when a screen has settled, in the manner of openQA's wait_still_screen.
type Still struct {
	// Interval between two pictures; default 500 ms.
	Interval time.Duration
	// Threshold is the largest Diff between consecutive pictures that counts as still; 0 means
	// they must be equal. A blinking cursor is a few hundred pixels: 0.001 of 640x480 hides it.
	Threshold float64
}

// ErrNotStill is WaitStill's answer when the context ended before the screen settled.
var ErrNotStill = errors.New("screen: the screen did not settle")

// WaitStill takes pictures until two consecutive ones differ by at most s.Threshold and returns
// the last. When ctx ends first it returns the last picture it has (or nil) with ErrNotStill
// wrapping the context's error.
func WaitStill(ctx context.Context, grab Grab, s Still) (image.Image, error) {
	interval := s.Interval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	var prev image.Image
	last := 1.0
	for {
		cur, err := grab(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return prev, fmt.Errorf("%w (last change %.4f): %w", ErrNotStill, last, ctx.Err())
			}
			return prev, fmt.Errorf("screen: taking a picture: %w", err)
		}
		if prev != nil {
			if last = Diff(prev, cur); last <= s.Threshold {
				return cur, nil
			}
		}
		prev = cur
		select {
		case <-ctx.Done():
			return prev, fmt.Errorf("%w (last change %.4f): %w", ErrNotStill, last, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// WaitUntil takes a picture every interval (default 500 ms) until ok says it shows what the
// caller waits for, and returns that picture. When ctx ends first it returns the last picture it
// has (or nil), for the caller to save, with ctx's error.
func WaitUntil(ctx context.Context, grab Grab, interval time.Duration, ok func(image.Image) bool) (image.Image, error) {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	var last image.Image
	for {
		cur, err := grab(ctx)
		switch {
		case err == nil:
			if last = cur; ok(cur) {
				return cur, nil
			}
		case ctx.Err() == nil:
			return last, fmt.Errorf("screen: taking a picture: %w", err)
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("screen: not shown in time: %w", ctx.Err())
		case <-time.After(interval):
		}
	}
}
