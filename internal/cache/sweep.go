package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A writer holds an flock(2) on its temporary file or folder until it has renamed it, and the lock
// goes with the process: a temporary name that nobody holds was left by a build that was killed.

// sweepAge is how old an unheld temporary name must be before it is removed: a writer takes its
// lock right after it creates the name, and this leaves that moment alone.
const sweepAge = 10 * time.Second

// lockWriting marks f (a temporary file or folder) as being written by this process.
func lockWriting(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return nil
}

// sweep removes what killed writers left in dir: temporary names nobody holds, and folders a
// killed build was removing. It is best effort and runs only when something is written there, so
// a warm build does not pay for it.
func sweep(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, ".tmp-") && !strings.HasPrefix(name, ".trash-") {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < sweepAge {
			continue
		}
		p := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".tmp-") {
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			held := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
			f.Close()
			if held {
				continue
			}
		}
		os.RemoveAll(p)
	}
}

// Scratch makes a private folder for one build's transient files (e.g. the unpacked contents of
// Debian packages, read again when their image is written): <Dir>/scratch/.tmp-<what>-*, held by
// this process. release removes it; a killed build's folder is swept by the next Scratch.
func (c *Cache) Scratch(what string) (dir string, release func(), err error) {
	parent := filepath.Join(c.Dir, "scratch")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", nil, err
	}
	sweep(parent)
	dir, err = os.MkdirTemp(parent, ".tmp-"+what+"-*")
	if err != nil {
		return "", nil, err
	}
	lock, err := os.Open(dir)
	if err == nil {
		if err = lockWriting(lock); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		os.RemoveAll(dir)
		lock.Close()
	}, nil
}
