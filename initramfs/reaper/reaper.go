// Package reaper is the only waiter for child processes of PID 1. It starts
// processes (so it knows their pids before they can exit) and reaps every
// child, delivering exit statuses to the starter and reporting orphans.
//
// A process that uses a Reaper must not use os/exec or os.Process.Wait: a
// wait4(-1) here would steal their children.
package reaper

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit is how a child ended.
type Exit struct {
	Pid    int
	Status syscall.WaitStatus
}

// Reaper reaps children. The zero value is not usable; call New.
type Reaper struct {
	mu      sync.Mutex
	waiting map[int]chan Exit
	orphan  func(Exit)
	sigs    chan os.Signal
	stop    chan struct{}
}

// New returns a Reaper that calls orphan (if not nil) for every reaped child
// it did not start, such as daemons' orphans re-parented to PID 1. Call Run.
func New(orphan func(Exit)) *Reaper {
	return &Reaper{waiting: map[int]chan Exit{}, orphan: orphan, stop: make(chan struct{})}
}

// Start forks and execs argv0 with attr (see syscall.ForkExec) and returns its
// pid and a channel that receives its Exit once.
func (r *Reaper) Start(argv0 string, argv []string, attr *syscall.ProcAttr) (int, <-chan Exit, error) {
	r.mu.Lock() // held across fork so reap cannot see the pid before it is registered
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(argv0, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan Exit, 1)
	r.waiting[pid] = ch
	return pid, ch, nil
}

// Reap collects every child that has exited, without blocking.
func (r *Reaper) Reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		e := Exit{pid, ws}
		if ch, ok := r.waiting[pid]; ok {
			delete(r.waiting, pid)
			ch <- e
			continue
		}
		if r.orphan != nil {
			r.orphan(e)
		}
	}
}

// Run reaps on every SIGCHLD until Close. It also makes this process a child
// subreaper (prctl PR_SET_CHILD_SUBREAPER), so orphans of its children come
// back to it even when it is not PID 1 (as under go test).
func (r *Reaper) Run() {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	r.sigs = make(chan os.Signal, 16)
	signal.Notify(r.sigs, syscall.SIGCHLD)
	defer signal.Stop(r.sigs)
	r.Reap() // children that exited before Notify
	for {
		select {
		case <-r.sigs:
			r.Reap()
		case <-r.stop:
			return
		}
	}
}

// Close stops Run.
func (r *Reaper) Close() { close(r.stop) }
