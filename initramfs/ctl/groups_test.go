package ctl

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// peerGroups reads the supplementary groups of a real peer: this test's own, connected to itself.
func TestPeerGroups(t *testing.T) {
	// As root (CI), the dial is made with supplementary groups the test sets, so the check cannot
	// pass on two empty lists.
	if os.Getuid() == 0 {
		before, err := syscall.Getgroups()
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setgroups([]int{4242, 4343}); err != nil {
			t.Fatal(err)
		}
		defer syscall.Setgroups(before)
	}
	want, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Logf("this process has no supplementary groups: the check compares two empty lists")
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.DialUnix("unix", nil, l.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rc, err := srv.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	rc.Control(func(fd uintptr) { got, err = peerGroups(int(fd)) })
	if err != nil {
		t.Fatal(err)
	}
	var gotInts []int
	for _, g := range got {
		gotInts = append(gotInts, int(g))
	}
	slices.Sort(gotInts)
	slices.Sort(want)
	if !slices.Equal(gotInts, want) {
		t.Errorf("peer groups = %v, want this process's %v", gotInts, want)
	}
}
