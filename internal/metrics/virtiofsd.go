package metrics

import (
	"path/filepath"

	"github.com/prometheus/procfs"
)

// virtiofsdComm is the command name of both virtiofsd implementations
// (the C one in /usr/lib/qemu and the Rust one).
const virtiofsdComm = "virtiofsd"

// virtiofsdOfParent finds the virtiofsd daemons among the children of
// parent, the process that runs the hypervisor (`microvm run`, also as
// the daemon's monitor): it starts one per share as its own child, in
// a process group of its own. The daemon does not hold the fleet (the
// monitor does), and a pid file the VM user could write would not be
// believed; the kernel's process tree is the record. A virtiofsd's
// sandbox child is counted with it.
func virtiofsdOfParent(fs procfs.FS, root string, parent int) (n int, cpu float64) {
	for _, c := range children(root, parent) {
		p, err := fs.Proc(c)
		if err != nil {
			continue
		}
		if comm, err := p.Comm(); err != nil || comm != virtiofsdComm {
			continue
		}
		n++
		cpu += treeCPU(fs, root, c)
	}
	return n, cpu
}

// virtiofsdOfUnit finds the virtiofsd daemons of a VM run by systemd in
// microvm-virtiofsd@NAME's cgroup (unit is the VM's own unit's cgroup
// path): the daemons are those whose parent is not itself a virtiofsd
// (that is a sandbox child); the CPU is the unit's, its supervisor
// `microvm host virtiofsd` included.
func (s *Sampler) virtiofsdOfUnit(fs procfs.FS, unit, name string) (n int, cpu float64, ok bool) {
	var dir string
	var st cgroupStats
	for _, d := range virtiofsdCgroups(unit, name) {
		var err error
		if st, err = readCgroup(filepath.Join(s.cgroupRoot(), d)); err == nil {
			dir = filepath.Join(s.cgroupRoot(), d)
			break
		}
	}
	if dir == "" {
		return 0, 0, false
	}
	pids := cgroupProcs(dir)
	isVirtiofsd := map[int]bool{}
	parent := map[int]int{}
	for _, pid := range pids {
		p, err := fs.Proc(pid)
		if err != nil {
			continue
		}
		if ps, err := p.Stat(); err == nil && ps.Comm == virtiofsdComm {
			isVirtiofsd[pid], parent[pid] = true, ps.PPID
		}
	}
	for pid := range isVirtiofsd {
		if !isVirtiofsd[parent[pid]] {
			n++
		}
	}
	return n, st.cpu, true
}

// virtiofsdCgroups are where microvm-virtiofsd@NAME's cgroup is, given
// the VM unit's: systemd puts a template's instances into a slice of
// the template's own (system-microvm.slice,
// system-microvm\x2dvirtiofsd.slice: '-' escaped), or, with Slice= set,
// both into that one.
func virtiofsdCgroups(unit, name string) []string {
	slice := filepath.Dir(unit)
	out := []string{filepath.Join(slice, virtiofsdUnit(name))}
	if filepath.Base(slice) == "system-microvm.slice" {
		out = append(out, filepath.Join(filepath.Dir(slice), `system-microvm\x2dvirtiofsd.slice`, virtiofsdUnit(name)))
	}
	return out
}
