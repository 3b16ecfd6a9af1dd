package ctl

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// inGroup reads the supplementary groups of a real process: this test's own.
func TestInGroup(t *testing.T) {
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	pid := int32(os.Getpid())
	for _, g := range groups {
		if !inGroup(pid, g) {
			t.Errorf("group %d of this process not found", g)
		}
	}
	b, _ := os.ReadFile("/proc/self/status")
	absent := 54321
	for strings.Contains(string(b), strconv.Itoa(absent)) {
		absent++
	}
	if inGroup(pid, absent) {
		t.Errorf("group %d found, which this process is not in", absent)
	}
	if inGroup(1<<30, 0) {
		t.Error("a process that does not exist is in group 0")
	}
}
