package metrics

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/procfs"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// parallel bounds the VMs sampled at once: enough to wait for several
// slow hypervisors together, few enough not to crowd a small host.
const parallel = 8

// host is what one Sample reads once for all VMs.
type host struct {
	fs       procfs.FS
	bootTime uint64
	net      procfs.NetDev
	netErr   error

	// virtiofsd memoizes virtiofsdOfParent by parent: VMs that share a
	// parent (`microvm run`s under one shell) are scanned once.
	mu        sync.Mutex
	virtiofsd map[int][2]float64
}

// virtiofsdOf is virtiofsdOfParent, once per parent and sample.
func (h *host) virtiofsdOf(root string, parent int) (int, float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.virtiofsd[parent]; ok {
		return int(v[0]), v[1]
	}
	n, cpu := virtiofsdOfParent(h.fs, root, parent)
	if h.virtiofsd == nil {
		h.virtiofsd = map[int][2]float64{}
	}
	h.virtiofsd[parent] = [2]float64{float64(n), cpu}
	return n, cpu
}

func (s *Sampler) sampleVMs(ctx context.Context, vms []state.VM) []VMSample {
	out := make([]VMSample, len(vms))
	h, err := s.readHost()
	if err != nil {
		for i, vm := range vms {
			out[i] = VMSample{Name: vm.Name, Time: time.Now(), Running: vm.Running, Problems: []string{err.Error()}}
		}
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, vm := range vms {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = s.sampleVM(ctx, h, vm)
		}()
	}
	wg.Wait()
	return out
}

func (s *Sampler) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

func (s *Sampler) readHost() (*host, error) {
	fs, err := procfs.NewFS(s.procRoot())
	if err != nil {
		return nil, err
	}
	h := &host{fs: fs}
	if st, err := fs.Stat(); err == nil {
		h.bootTime = st.BootTime
	}
	h.net, h.netErr = netCounters(fs)
	return h, nil
}

// sampleVM samples one VM.
func (s *Sampler) sampleVM(ctx context.Context, h *host, vm state.VM) VMSample {
	vs := VMSample{Name: vm.Name, Time: time.Now(), Running: vm.Running}
	path := vm.Current
	if vm.Booted != "" {
		path = vm.Booted // what runs now
	}
	rf, err := s.runnerFacts(path)
	if err != nil {
		vs.problem("runner: %v", err)
	}
	vs.Hypervisor = rf.hypervisor
	vs.Virtiofsd.Shares = rf.shares
	if !vm.Running || vm.Process == nil {
		return vs
	}
	vs.PID = vm.Process.PID
	p, err := readProcess(h.fs, s.procRoot(), vs.PID, h.bootTime)
	if err != nil {
		// It ended since the state directory was read.
		vs.Running, vs.PID = false, 0
		return vs
	}
	vs.Started = p.started
	if vs.Hypervisor == "" {
		vs.Hypervisor = hypervisorOfComm(p.comm)
	}
	vs.Source, vs.CPUSeconds = SourceProc, p.cpu
	unit := unitCgroup(s.procRoot(), vs.PID, vm.Name)
	ioFromCgroup := false
	if unit != "" {
		if cg, err := readCgroup(filepath.Join(s.cgroupRoot(), unit)); err == nil {
			vs.Source, vs.CPUSeconds = SourceCgroup, cg.cpu
			vs.CgroupMemoryBytes = cg.memory
			if ioFromCgroup = cg.hasIO; ioFromCgroup {
				vs.IOReadBytes, vs.IOWriteBytes = cg.readBytes, cg.writeBytes
			}
		}
	}
	memoryAndIO(h.fs, vs.PID, !ioFromCgroup, &vs)

	if h.netErr != nil && len(rf.taps)+len(rf.macvtaps) > 0 {
		vs.problem("network: %v", h.netErr)
	}
	for _, id := range rf.taps {
		vs.Net = append(vs.Net, netSample(h.net, id, "tap"))
	}
	for _, id := range rf.macvtaps {
		vs.Net = append(vs.Net, netSample(h.net, id, "macvtap"))
	}

	if unit != "" {
		if n, cpu, ok := s.virtiofsdOfUnit(h.fs, unit, vm.Name); ok {
			vs.Virtiofsd.Processes, vs.Virtiofsd.CPUSeconds = n, cpu
		}
	} else if rf.shares > 0 {
		vs.Virtiofsd.Processes, vs.Virtiofsd.CPUSeconds = h.virtiofsdOf(s.procRoot(), p.ppid)
	}

	s.hypervisorStats(ctx, h, vm, p, unit != "", &vs)
	return vs
}

// runnerFacts is what a runner says that sampling needs.
type runnerFacts struct {
	hypervisor string
	taps       []string
	macvtaps   []string
	shares     int
}

// maxRunners bounds the runners a Sampler remembers: a few per VM.
const maxRunners = 4096

// runnerFacts reads the runner at path, once: runners live in the state
// directory's content-addressed store or the Nix store, and never
// change under their path. Runners elsewhere are not read: the VM user
// can point its links anywhere, and what a runner lists is what the
// metrics attribute to the VM.
func (s *Sampler) runnerFacts(path string) (runnerFacts, error) {
	if path == "" {
		return runnerFacts{}, nil
	}
	// A path that resolved into a store once keeps doing so: the store
	// is root's, and links into it are only ever swapped, never changed
	// in place. Keyed by the link's target, a scrape skips resolving it.
	s.mu.Lock()
	rf, ok := s.runners[path]
	s.mu.Unlock()
	if ok {
		return rf, nil
	}
	real, ok := s.State.Trusted(path)
	if !ok {
		return runnerFacts{}, fmt.Errorf("%s is outside the state store and the Nix store; not read", path)
	}
	r, err := runner.Load(real)
	if err != nil {
		return runnerFacts{}, err
	}
	rf = runnerFacts{taps: r.Taps, shares: len(r.Shares)}
	if r.Meta != nil {
		rf.hypervisor = r.Meta.Hypervisor
	}
	for _, m := range r.Macvtaps {
		rf.macvtaps = append(rf.macvtaps, m.ID)
	}
	s.mu.Lock()
	if s.runners == nil || len(s.runners) >= maxRunners {
		s.runners = map[string]runnerFacts{} // runners updated away are forgotten
	}
	s.runners[path] = rf
	s.mu.Unlock()
	return rf, nil
}
