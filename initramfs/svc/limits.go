package svc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// writeLimits writes MemoryMax= and TasksMax= of s into its cgroup (memory.max and pids.max,
// Documentation/admin-guide/cgroup-v2.rst), before its process is started into it. The first
// time, it enables the memory and pids controllers from the cgroup root down to the services'
// folder: a child cgroup has those files only when its parent's cgroup.subtree_control names them.
func (m *Manager) writeLimits(s *service) error {
	m.controllersOnce.Do(func() {
		base := m.cfg.CgroupDir
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+memory +pids"), 0); err != nil {
				m.controllersErr = fmt.Errorf("enable the memory and pids controllers in %s: %w", d, err)
				return
			}
		}
	})
	if m.controllersErr != nil {
		return m.controllersErr
	}
	u := s.u
	if u.MemoryMax != nil {
		var si unix.Sysinfo_t
		if err := unix.Sysinfo(&si); err != nil {
			return fmt.Errorf("MemoryMax: sysinfo: %w", err)
		}
		if err := os.WriteFile(filepath.Join(s.cg, "memory.max"), []byte(u.MemoryMax.Resolve(uint64(si.Totalram)*uint64(si.Unit))), 0); err != nil {
			return fmt.Errorf("MemoryMax: %w", err)
		}
	}
	if u.TasksMax != nil {
		// A percentage is of the kernel's task limit (systemd.resource-control(5)), kernel.pid_max.
		var total uint64
		if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
			total, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
		if err := os.WriteFile(filepath.Join(s.cg, "pids.max"), []byte(u.TasksMax.Resolve(total)), 0); err != nil {
			return fmt.Errorf("TasksMax: %w", err)
		}
	}
	return nil
}
