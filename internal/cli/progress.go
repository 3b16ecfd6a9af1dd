package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress shows a build's steps on stderr: live byte counts when stderr is a terminal, plain step
// lines otherwise (CI logs).
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	quiet    bool
	start    time.Time
	lastDraw time.Time
	partial  bool // a \r line is on screen
}

func newProgress(w io.Writer, quiet bool) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, quiet: quiet, start: time.Now()}
}

func (p *progress) clear() {
	if p.partial {
		fmt.Fprint(p.w, "\r\033[K")
		p.partial = false
	}
}

func (p *progress) Step(n, total int, name, detail string) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "[%d/%d] %-8s %s (%.1fs)\n", n, total, name, detail, time.Since(p.start).Seconds())
}

func (p *progress) Note(msg string) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "      %s\n", msg)
}

func (p *progress) Bytes(name string, done, total int64) {
	if p.quiet || !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if done != total && time.Since(p.lastDraw) < 100*time.Millisecond {
		return
	}
	p.lastDraw = time.Now()
	if total > 0 {
		fmt.Fprintf(p.w, "\r\033[K      %s %s / %s (%d%%)", name, mib(done), mib(total), done*100/total)
	} else {
		fmt.Fprintf(p.w, "\r\033[K      %s %s", name, mib(done))
	}
	p.partial = true
	if done == total {
		p.clear()
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
