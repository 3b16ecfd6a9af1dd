package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Medium is the device that holds this build, mounted read-only at Dir.
type Medium struct {
	Device Device
	FSType string
	Dir    string
	Layers []Layer // its /live/layers
}

// ProbeFunc looks at one device: this build's medium (mounted), or why not. final says the
// verdict holds until the device changes (another build, not a file system it knows); a probe
// that may succeed later (its file system's module is still loading, the drive is not ready)
// is tried again at the next poll.
type ProbeFunc func(ctx context.Context, d Device) (m Medium, final bool, err error)

// Finder scans block devices for this build's medium.
type Finder struct {
	SysBlock string        // /sys/class/block
	Poll     time.Duration // between scans; the contract's 250 ms when 0
	Timeout  time.Duration // give up after; 30 s when 0
	Probe    ProbeFunc
	Log      *slog.Logger
}

// Defaults of the contract (docs: initramfs/README.md, "The root on the medium").
const (
	DefaultPoll    = 250 * time.Millisecond
	DefaultTimeout = 30 * time.Second
)

// ErrNotFound: no device held this build's medium before the timeout. The *NotFoundError says
// what was seen.
var ErrNotFound = errors.New("medium not found")

// NotFoundError is the failed search: every device seen and why it was refused.
type NotFoundError struct {
	Timeout time.Duration
	Seen    []Seen
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%v within %v (%d devices seen)", ErrNotFound, e.Timeout, len(e.Seen))
}
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// Find scans until a device holds the medium, the timeout passes (a *NotFoundError) or ctx ends.
func (f Finder) Find(ctx context.Context) (Medium, error) {
	poll, limit := f.Poll, f.Timeout
	if poll <= 0 {
		poll = DefaultPoll
	}
	if limit <= 0 {
		limit = DefaultTimeout
	}
	log := f.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	deadline := time.Now().Add(limit)
	seen := map[string]string{}
	// final verdicts, by device identity and size: a new medium in the same drive is tried again.
	settled := map[string]string{}
	for {
		devs, err := ScanDevices(f.SysBlock)
		if err != nil {
			seen["/sys/class/block"] = err.Error()
		}
		for _, d := range devs {
			if d.Skip != "" {
				if d.Major != majorLoop && d.Major != majorRAM { // never a medium: not worth a word
					seen[d.Name] = d.Skip
				}
				continue
			}
			key := fmt.Sprintf("%s %d:%d %d", d.Name, d.Major, d.Minor, d.Sectors)
			if why, ok := settled[key]; ok {
				seen[d.Name] = why
				continue
			}
			m, final, err := f.Probe(ctx, d)
			if err == nil {
				return m, nil
			}
			why := err.Error()
			if seen[d.Name] != why {
				log.Info("medium refused", "device", d.Name, "why", why)
			}
			seen[d.Name] = why
			if final {
				settled[key] = why
			}
		}
		if !time.Now().Before(deadline) {
			return Medium{}, &NotFoundError{Timeout: limit, Seen: Report(seen)}
		}
		select {
		case <-ctx.Done():
			return Medium{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}
