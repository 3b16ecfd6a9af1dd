package reaper

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func sh(t *testing.T, r *Reaper, script string) (int, <-chan Exit) {
	t.Helper()
	pid, ch, err := r.Start("/bin/sh", []string{"sh", "-c", script},
		&syscall.ProcAttr{Files: []uintptr{0, os.Stdout.Fd(), os.Stderr.Fd()}})
	if err != nil {
		t.Fatal(err)
	}
	return pid, ch
}

func TestStartAndOrphans(t *testing.T) {
	orphans := make(chan Exit, 4)
	r := New(func(e Exit) { orphans <- e })
	go r.Run()
	defer r.Close()

	pid, ch := sh(t, r, "exit 3")
	select {
	case e := <-ch:
		if e.Pid != pid || e.Status.ExitStatus() != 3 {
			t.Errorf("exit = %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit")
	}

	// The shell starts a background child and exits; the child is re-parented
	// to us (subreaper) and reaped as an orphan.
	_, ch = sh(t, r, "sleep 0.1 & exit 0")
	<-ch
	select {
	case e := <-orphans:
		if !e.Status.Exited() {
			t.Errorf("orphan %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("orphan not reaped")
	}
}
