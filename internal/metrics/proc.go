package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// userHZ is the unit of /proc/PID/stat's times: USER_HZ, 100 on every
// Linux architecture (procfs assumes the same).
const userHZ = 100

// procRoot is the /proc this sampler reads.
func (s *Sampler) procRoot() string {
	if s.Proc == "" {
		return procfs.DefaultMountPoint
	}
	return s.Proc
}

// process is what /proc tells about one process.
type process struct {
	pid     int
	ppid    int
	comm    string
	uid     int // owner of /proc/PID: the process's effective uid
	started time.Time
	cpu     float64
}

// readProcess reads the stat of pid; bootTime (seconds since the epoch)
// turns its start time into a time.
func readProcess(fs procfs.FS, root string, pid int, bootTime uint64) (process, error) {
	p, err := fs.Proc(pid)
	if err != nil {
		return process{}, err
	}
	st, err := p.Stat()
	if err != nil {
		return process{}, err
	}
	out := process{pid: pid, ppid: st.PPID, comm: st.Comm, cpu: st.CPUTime(), uid: -1}
	if bootTime > 0 {
		out.started = time.Unix(int64(bootTime), 0).Add(time.Duration(st.Starttime) * time.Second / userHZ)
	}
	if fi, err := os.Stat(filepath.Join(root, strconv.Itoa(pid))); err == nil {
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			out.uid = int(sys.Uid)
		}
	}
	return out, nil
}

// memoryAndIO fills the hypervisor process's memory and, unless a cgroup
// gave them, its I/O counters.
func memoryAndIO(fs procfs.FS, pid int, withIO bool, vs *VMSample) {
	p, err := fs.Proc(pid)
	if err != nil {
		vs.problem("memory: %v", err)
		return
	}
	if sm, err := p.ProcSMapsRollup(); err == nil {
		vs.RSSBytes, vs.PSSBytes = sm.Rss, sm.Pss
	} else if st, serr := p.Stat(); serr == nil {
		// smaps_rollup needs the owner or root; stat's RSS does not.
		vs.RSSBytes = uint64(st.ResidentMemory())
		vs.problem("memory: PSS unknown: %v", err)
	} else {
		vs.problem("memory: %v", err)
	}
	if !withIO {
		return
	}
	if io, err := p.IO(); err == nil {
		vs.IOReadBytes, vs.IOWriteBytes = io.ReadBytes, io.WriteBytes
	} else {
		vs.problem("I/O: %v", err)
	}
}

// children returns the pids of pid's children, from every thread's
// children file (a Go process forks from any of its threads).
func children(root string, pid int) []int {
	tasks, err := os.ReadDir(filepath.Join(root, strconv.Itoa(pid), "task"))
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "task", t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// treeCPU is the CPU time of pid and all its descendants that still run.
func treeCPU(fs procfs.FS, root string, pid int) float64 {
	p, err := fs.Proc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	sum := st.CPUTime()
	for _, c := range children(root, pid) {
		sum += treeCPU(fs, root, c)
	}
	return sum
}

// hypervisorOfComm names the hypervisor a process runs by its command
// name (at most 15 bytes: "cloud-hyperviso"), for runners without
// meta.json.
func hypervisorOfComm(comm string) string {
	switch {
	case strings.HasPrefix(comm, "qemu-system-"), comm == "qemu-kvm":
		return "qemu"
	case strings.HasPrefix(comm, "cloud-hyperviso"):
		return "cloud-hypervisor"
	case comm == "lkvm", comm == "kvmtool":
		return "kvmtool"
	case comm == "firecracker", comm == "crosvm", comm == "stratovirt", comm == "alioth":
		return comm
	}
	return ""
}

// problem records what could not be read.
func (vs *VMSample) problem(format string, args ...any) {
	vs.Problems = append(vs.Problems, fmt.Sprintf(format, args...))
}
