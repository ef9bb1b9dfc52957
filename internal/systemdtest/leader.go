package systemdtest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// findLeader returns the container's PID 1: the child of systemd-nspawn,
// itself the child of the boot shell, once it runs systemd.
func (c *Container) findLeader() (int, error) {
	if c.shell == nil {
		return 0, errors.New("not started")
	}
	nspawn := childrenOf(c.shell.Pid)
	for _, n := range nspawn {
		for _, l := range childrenOf(n) {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", l)); strings.TrimSpace(string(comm)) == "systemd" {
				return l, nil
			}
		}
	}
	return 0, errors.New("the container's systemd does not run (yet)")
}

// childrenOf lists the processes whose parent is pid. /proc/PID/task/*/
// children needs CONFIG_PROC_CHILDREN, which not every kernel has.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command, which may hold spaces and
		// parentheses, start after the last ')': state, then ppid.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// Leader is the container's PID 1 as the host sees it.
func (c *Container) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}
