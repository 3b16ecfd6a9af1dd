package update

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/internal/ab"
	"github.com/genai-os/genai-build/internal/bundle"
)

// Installed is what Install put where.
type Installed struct {
	Slot    ab.Slot
	Version string
	BuildID string
}

// Install installs the bundle at src (a file, "-" for stdin, an http(s) URL) into the slot the
// system did not boot from, in this order, so that a power cut at any point leaves a device that
// boots its committed slot:
//
//  1. refuse while a trial is pending or when the booted slot is not the committed one;
//  2. read the bundle's manifest and check its signature, edition, architecture and version
//     (nothing is written when they fail);
//  3. mark the other slot bad (spare_ok=0) in the boot state, then stream the image into it,
//     each chunk verified before it is written, and read it back;
//  4. write the update record (pending, last: installed) on the data partition, then the boot
//     state: trial of the new slot with Tries tries, spare_ok=1.
//
// progress gets 10, 20, ... 100 as the image is written.
func (s System) Install(ctx context.Context, src string, stdin io.Reader, allowDowngrade bool, progress func(pct int)) (*Installed, error) {
	booted, err := s.booted()
	if err != nil {
		return nil, err
	}
	disk, err := s.disk(booted)
	if err != nil {
		return nil, err
	}
	target := booted.Other()
	dev, err := openSlot(disk.Slot(target))
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", target, err)
	}
	defer dev.Close()
	store, err := ab.OpenStore(disk.ESP)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	env, _, err := store.Read()
	if err != nil {
		return nil, err
	}
	if env.Trial != "" {
		return nil, fmt.Errorf("a trial boot of slot %s is pending (%d tries left): reboot to finish it (it commits or rolls back) before installing another update", env.Trial, env.Left)
	}
	if booted != env.Active {
		return nil, fmt.Errorf("the booted slot %s is not the committed slot %s (the boot loader fell back): slot %s may be the only good system; reboot into %s, or find why it fails, before updating", booted, env.Active, booted, env.Active)
	}
	edition, version, err := s.running()
	if err != nil {
		return nil, err
	}
	keys, err := bundle.LoadKeyring(filepath.Join(s.Root, bundle.TrustedKeysDir))
	if err != nil {
		return nil, err
	}
	size, err := dev.Seek(0, io.SeekEnd) // a block device's size, too
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", target, err)
	}
	in, err := s.open(ctx, src, stdin)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	r, err := bundle.Open(in, bundle.Policy{Keys: keys, Edition: edition, Arch: arch(), Version: version,
		AllowDowngrade: allowDowngrade, TargetSize: size})
	if err != nil {
		return nil, err
	}
	m := r.Manifest
	// From here the slot stops being a complete system: the boot loader must not fall back to it.
	env.SpareOK = false
	if err := store.Write(env); err != nil {
		return nil, fmt.Errorf("marking slot %s bad before writing it: %w", target, err)
	}
	next := 10
	err = r.Install(uncached{dev}, func(done, total int64) {
		for next <= 100 && done*100 >= int64(next)*total {
			progress(next)
			next += 10
		}
	})
	if err != nil {
		// The slot stays marked bad; the record says why, for status.
		st, _ := ab.LoadState(s.DataDir)
		st.Last = &ab.Result{Slot: target, Version: m.Version, Outcome: ab.Failed, Reason: err.Error(), Time: s.Now().UTC()}
		st.Save(s.DataDir)
		return nil, fmt.Errorf("slot %s: %w", target, err)
	}
	now := s.Now().UTC()
	st, err := ab.LoadState(s.DataDir)
	if err != nil {
		st = ab.State{} // a damaged record is replaced
	}
	st.Pending = &ab.Attempt{Slot: target, Version: m.Version, BuildID: m.BuildID, Installed: now}
	st.Last = &ab.Result{Slot: target, Version: m.Version, Outcome: ab.Installed, Time: now}
	if err := st.Save(s.DataDir); err != nil {
		return nil, fmt.Errorf("the update record on %s: %w", s.DataDir, err)
	}
	if err := store.Write(ab.Env{Active: booted, Trial: target, Left: s.tries(), SpareOK: true}); err != nil {
		return nil, fmt.Errorf("marking slot %s for its trial boot: %w", target, err)
	}
	return &Installed{Slot: target, Version: m.Version, BuildID: m.BuildID}, nil
}

// DefaultStall is how long a download may send nothing before the install gives up.
const DefaultStall = 60 * time.Second

// watched is a download's body whose stall timer each read that brings data resets; a read
// after the timer fired says why the stream ended.
type watched struct {
	ctx    context.Context
	body   io.ReadCloser
	stall  *time.Timer
	limit  time.Duration
	cancel context.CancelCauseFunc
}

func (w *watched) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	if n > 0 {
		w.stall.Reset(w.limit)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(w.ctx); cause != nil {
			err = cause
		}
	}
	return n, err
}

func (w *watched) Close() error {
	w.stall.Stop()
	w.cancel(nil)
	return w.body.Close()
}

// openSlot opens the slot to write, for this process alone: a block device exclusively (O_EXCL:
// EBUSY while it is mounted or open so elsewhere, open(2)), and every target under an flock(2),
// so that two installs never interleave.
func openSlot(p string) (*os.File, error) {
	flags := os.O_RDWR
	if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
		flags |= syscall.O_EXCL
	}
	f, err := os.OpenFile(p, flags, 0)
	if err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return nil, fmt.Errorf("%s is in use (mounted, or another genai-update is writing it): %w", p, err)
		}
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: another genai-update is installing into it: %w", p, err)
	}
	return f, nil
}

// uncached is a slot whose Sync also drops the written pages from the page cache
// (posix_fadvise(2) POSIX_FADV_DONTNEED after fsync), so that the read-back after the last chunk
// reads what the device stored, not what the kernel still holds in memory.
type uncached struct{ *os.File }

func (u uncached) Sync() error {
	if err := u.File.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(u.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// open opens the bundle's stream: a file, standard input, or the body of an HTTP(S) GET.
func (s System) open(ctx context.Context, src string, stdin io.Reader) (io.ReadCloser, error) {
	switch {
	case src == "-":
		return io.NopCloser(stdin), nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		ctx, cancel := context.WithCancelCause(ctx)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			cancel(nil)
			return nil, err
		}
		// A server that stops sending ends the install: nothing is waited for forever.
		limit := cmp.Or(s.Stall, DefaultStall)
		stall := time.AfterFunc(limit, func() {
			cancel(fmt.Errorf("%s: nothing received for %v", src, limit))
		})
		c := s.Client
		if c == nil {
			c = http.DefaultClient
		}
		resp, err := c.Do(req)
		if err != nil {
			stall.Stop()
			cancel(nil)
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return nil, cause
			}
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			stall.Stop()
			resp.Body.Close()
			cancel(nil)
			return nil, fmt.Errorf("%s: %s", src, resp.Status)
		}
		return &watched{ctx: ctx, body: resp.Body, stall: stall, limit: limit, cancel: cancel}, nil
	}
	return os.Open(src)
}
