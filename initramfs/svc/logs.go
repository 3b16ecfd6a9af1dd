package svc

import (
	"bufio"
	"io"
	"os"
	"sync"
	"time"
)

// LogLine is one line a service wrote on stdout or stderr.
type LogLine struct {
	At   time.Duration `json:"at_ms"` // since boot
	Text string        `json:"text"`
}

// ring keeps the last lines of a service, bounded in bytes, and fans new lines
// out to followers.
type ring struct {
	mu        sync.Mutex
	lines     []LogLine
	size, max int
	followers map[chan LogLine]struct{}
}

func newRing(max int) *ring { return &ring{max: max, followers: map[chan LogLine]struct{}{}} }

func (r *ring) add(l LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l)
	r.size += len(l.Text) + 16
	for r.size > r.max && len(r.lines) > 1 {
		r.size -= len(r.lines[0].Text) + 16
		r.lines = r.lines[1:]
	}
	for ch := range r.followers {
		select {
		case ch <- l:
		default: // a slow follower loses lines rather than blocking the service
		}
	}
}

func (r *ring) snapshot() []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]LogLine(nil), r.lines...)
}

// follow returns the current lines and a channel of new ones; cancel ends it.
func (r *ring) follow() ([]LogLine, <-chan LogLine, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan LogLine, 256)
	r.followers[ch] = struct{}{}
	cancel := func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.followers[ch]; ok {
			delete(r.followers, ch)
			close(ch)
		}
	}
	return append([]LogLine(nil), r.lines...), ch, cancel
}

// logFile appends to a file and rotates it to path.1 past max bytes.
type logFile struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

func (lf *logFile) write(b []byte) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return // logging must never stop a service; the ring still has the lines
		}
		fi, _ := f.Stat()
		lf.f, lf.size = f, fi.Size()
	}
	if lf.size+int64(len(b)) > lf.max {
		lf.f.Close()
		os.Rename(lf.path, lf.path+".1")
		lf.f = nil
		f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return
		}
		lf.f, lf.size = f, 0
	}
	n, _ := lf.f.Write(b)
	lf.size += int64(n)
}

// close writes the file to disk and closes it; a later write opens it again.
func (lf *logFile) close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return nil
	}
	err := lf.f.Sync()
	if cerr := lf.f.Close(); err == nil {
		err = cerr
	}
	lf.f = nil
	return err
}

// pump copies lines from r into the ring and the file until EOF.
func pump(r io.ReadCloser, rg *ring, lf *logFile, clock func() time.Duration) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if lf != nil {
				lf.write([]byte(line))
			}
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			rg.add(LogLine{At: clock(), Text: line})
		}
		if err != nil {
			return
		}
	}
}
