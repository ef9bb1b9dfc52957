package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoot is the cgroup v2 hierarchy this sampler reads: Cgroup, else
// /sys/fs/cgroup, or on a hybrid host (v1 controllers, v2 for systemd's
// tracking) /sys/fs/cgroup/unified, whose cgroups have cpu.stat but no
// controllers' files (I/O and memory then come from /proc).
func (s *Sampler) cgroupRoot() string {
	if s.Cgroup != "" {
		return s.Cgroup
	}
	s.cgroupOnce.Do(func() {
		s.cgroupFound = "/sys/fs/cgroup"
		for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
			if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
				s.cgroupFound = dir
				break
			}
		}
	})
	return s.cgroupFound
}

// Units of systemd's that run a VM's processes (internal/systemd's
// templates; manager.Unit names the first the same way).
func vmUnit(name string) string        { return "microvm@" + name + ".service" }
func virtiofsdUnit(name string) string { return "microvm-virtiofsd@" + name + ".service" }

// unitCgroup returns the cgroup v2 path of pid ("/system.slice/microvm@vm.service")
// when it is the VM name's systemd unit, else "": the process runs under
// the daemon or `microvm run`, or the host has no cgroup v2.
func unitCgroup(procRoot string, pid int, name string) string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		// cgroup v2's line is "0::PATH"; v1 lines name their controllers.
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok && filepath.Base(p) == vmUnit(name) {
			return p
		}
	}
	return ""
}

// cgroupStats are a cgroup's counters: cpu.stat usage_usec, io.stat
// summed over devices, memory.current.
type cgroupStats struct {
	cpu                   float64
	hasIO                 bool // io.stat is there (the io controller is enabled)
	readBytes, writeBytes uint64
	memory                uint64 // 0 without the memory controller
}

// readCgroup reads the cgroup at dir; it fails when cpu.stat is missing
// (no cgroup v2 there, or the unit is gone), and leaves out what the
// other files do not tell (a controller not enabled for the unit).
func readCgroup(dir string) (cgroupStats, error) {
	var st cgroupStats
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return st, err
	}
	usec, ok := keyValue(b, "usage_usec")
	if !ok {
		return st, fmt.Errorf("%s: no usage_usec", filepath.Join(dir, "cpu.stat"))
	}
	st.cpu = float64(usec) / 1e6
	if b, err := os.ReadFile(filepath.Join(dir, "memory.current")); err == nil {
		st.memory, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "io.stat")); err == nil {
		st.hasIO = true
		// "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N", a
		// line per device.
		for line := range strings.Lines(string(b)) {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			for _, f := range fields[1:] {
				k, v, _ := strings.Cut(f, "=")
				n, _ := strconv.ParseUint(v, 10, 64)
				switch k {
				case "rbytes":
					st.readBytes += n
				case "wbytes":
					st.writeBytes += n
				}
			}
		}
	}
	return st, nil
}

// keyValue finds "KEY N" in a flat-keyed cgroup file.
func keyValue(b []byte, key string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// cgroupProcs lists the pids in the cgroup at dir.
func cgroupProcs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
