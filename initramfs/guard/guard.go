// Package guard keeps a panic in one goroutine of PID 1 from ending the whole process. A panic
// that reaches the top of any goroutine ends a Go program, and when that program is PID 1 the
// kernel panics ("Attempted to kill init!") without saying why. Every goroutine the init starts
// goes through Go (or defers Recover), so a bug is logged with its stack and the rest runs on.
package guard

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Panic is a recovered panic: which job raised it, its value and the goroutine's stack.
type Panic struct {
	Name  string
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprintf("panic in %s: %v", p.Name, p.Value) }

// Log writes p to log (slog.Default() when log is nil) as one error record with the stack.
func Log(log *slog.Logger, p *Panic) {
	if log == nil {
		log = slog.Default()
	}
	log.Error("panic recovered, PID 1 keeps running", "in", p.Name, "panic", fmt.Sprint(p.Value), "stack", string(p.Stack))
}

// Go runs f in a new goroutine named name; a panic in f is logged on log and ends only that
// goroutine.
func Go(log *slog.Logger, name string, f func()) {
	go func() {
		defer Recover(log, name, nil)
		f()
	}()
}

// Recover must be deferred directly (defer guard.Recover(...)): it stops a panic, logs it on
// log, then calls after (when not nil) so that the goroutine can leave its state consistent
// (mark a job failed, release a waiter).
func Recover(log *slog.Logger, name string, after func(*Panic)) {
	v := recover()
	if v == nil {
		return
	}
	p := &Panic{Name: name, Value: v, Stack: debug.Stack()}
	Log(log, p)
	if after != nil {
		after(p)
	}
}

// Call runs f in the calling goroutine and returns its panic, if any, as a *Panic; for library
// code that reports failures as errors rather than logging them.
func Call(name string, f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &Panic{Name: name, Value: v, Stack: debug.Stack()}
		}
	}()
	f()
	return nil
}
