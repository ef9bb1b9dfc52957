// Package metrics measures what each VM uses on the host — the CPU,
// memory and I/O of its hypervisor process, the traffic of its taps and
// macvtaps, its virtiofsd daemons, and where the hypervisor can say, its
// disks and balloon — and exposes that with the VMs' states as
// Prometheus metrics. One Sampler feeds both the Prometheus collector
// (the daemon's GET /metrics, `microvm metrics`) and `microvm top`, so
// the two never disagree.
//
// Sampling reads files (/proc, the unit's cgroup under systemd) and asks
// running hypervisors over sockets they already serve; it never starts a
// process, so a scrape costs no fork and between scrapes nothing runs.
package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/microvm-host/microvm/internal/state"
)

// VMSample is what one VM had used at one moment (Time). Counters
// (CPUSeconds, the I/O, network and disk byte and operation counts)
// count from when the process or device they belong to started: they
// drop to zero when the VM restarts, so a rate is the difference of two
// samples of the same run (same PID and Started) over the difference of
// their Times. Gauges (RSSBytes, PSSBytes, BalloonBytes) are as of Time.
//
// Fields the host cannot tell stay zero (nil for BalloonBytes and
// Disks), and Problems says why, so a caller can tell "0" from
// "unknown". Only Name, Time and Running are always set.
type VMSample struct {
	Name string
	// Hypervisor is the runner's hypervisor (meta.json), else the one its
	// process runs (qemu, cloud-hypervisor, firecracker, crosvm, kvmtool,
	// stratovirt, alioth), else "" (a hand-written runner of another
	// kind).
	Hypervisor string
	Time       time.Time
	// Running is true while the VM's hypervisor process runs (its process
	// record names a live process); the rest is zero when it is false.
	Running bool
	PID     int
	Started time.Time // when the hypervisor process started
	// Source says where CPUSeconds and the I/O counters come from:
	// SourceProc (the hypervisor process) or SourceCgroup (its systemd
	// unit's cgroup, which holds everything the unit ran).
	Source string

	CPUSeconds float64 // user and system time
	RSSBytes   uint64  // resident memory of the hypervisor process
	// PSSBytes is RSSBytes with shared pages divided among their sharers
	// (smaps_rollup): what the VM would give back if it stopped. It
	// needs the process's owner or root.
	PSSBytes uint64
	// CgroupMemoryBytes is the unit's memory.current under systemd (page
	// cache of its disk images included); 0 otherwise, and where the
	// memory controller is not enabled for it.
	CgroupMemoryBytes uint64
	// IOReadBytes and IOWriteBytes are the bytes the process (or, where
	// its io controller is enabled, the unit) made the block layer read
	// and write: disk images not served from the page cache.
	IOReadBytes, IOWriteBytes uint64

	// Net is one entry per tap and macvtap of the booted runner, in its
	// order, from the guest's point of view (see NetSample).
	Net []NetSample
	// Disks are the hypervisor's own block counters, per disk, sorted by
	// device; nil when it cannot say (see the README for which can).
	Disks []DiskSample
	// BalloonBytes is the guest's memory as its balloon leaves it (qemu's
	// query-balloon "actual"); nil without a balloon device or for
	// hypervisors that cannot say.
	BalloonBytes *uint64

	Virtiofsd VirtiofsdSample

	// Problems are what could not be read, one phrase each ("disks:
	// qemu did not answer within 1s"); a sample with problems is still
	// right in every field they do not name.
	Problems []string
}

// Where VMSample.CPUSeconds and the I/O counters come from.
const (
	SourceProc   = "proc"
	SourceCgroup = "cgroup"
)

// NetSample is the traffic of one tap or macvtap, from the guest's point
// of view: Rx is what the guest received. A tap's host-side counters
// are the other way round (what the host transmits into a tap, the
// guest receives) and are swapped; a macvtap's are the guest's already.
// This is what libvirt reports, so dashboards made for it read right.
type NetSample struct {
	Interface string
	Kind      string // "tap" or "macvtap"
	// Missing is true when the interface does not exist (not yet created,
	// or removed under the VM); its counters are then zero.
	Missing              bool
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
	RxErrors, TxErrors   uint64
	RxDropped, TxDropped uint64
}

// DiskSample is one disk as its hypervisor counts it.
type DiskSample struct {
	Device                string // the hypervisor's name for it (qemu's drive id, cloud-hypervisor's "_disk0")
	ReadBytes, WriteBytes uint64
	ReadOps, WriteOps     uint64
}

// VirtiofsdSample is the VM's virtiofsd daemons: under the daemon or
// `microvm run`, the children of the process that runs the hypervisor
// whose command is virtiofsd; under systemd, microvm-virtiofsd@NAME's
// cgroup.
type VirtiofsdSample struct {
	Shares     int     // shares the booted runner declares: one daemon each
	Processes  int     // virtiofsd daemons running
	CPUSeconds float64 // theirs, with their sandbox children
}

// Sampler takes VMSamples of the VMs of one state directory. Its zero
// roots are the host's (/proc, /sys/fs/cgroup); tests point them at
// trees of their own. It is safe for concurrent use, and keeps only
// what never changes: each runner's parsed interface lists, by path.
type Sampler struct {
	State *state.Dir
	// Runtime is the daemon's runtime directory, where `microvm run`
	// serves the statistics of a qemu whose events monitor it holds (see
	// StatsSocket); "" asks no monitor.
	Runtime string
	Proc    string // "" is /proc
	Cgroup  string // "" is /sys/fs/cgroup (cgroup v2)
	// Timeout bounds each question to a hypervisor (QMP, HTTP); zero is
	// DefaultTimeout. Hypervisors are asked in parallel, so a scrape
	// takes about one Timeout at worst, not one per VM.
	Timeout time.Duration
	Log     *slog.Logger

	mu      sync.Mutex
	runners map[string]runnerFacts

	cgroupOnce  sync.Once
	cgroupFound string
}

// DefaultTimeout bounds a question to a hypervisor: a healthy one
// answers in a millisecond, and Prometheus's default scrape timeout is
// 10 s.
const DefaultTimeout = time.Second

// NewSampler samples the VMs of d on this host; runtime is the daemon's
// runtime directory ("" for none).
func NewSampler(d *state.Dir, runtime string, log *slog.Logger) *Sampler {
	return &Sampler{State: d, Runtime: runtime, Log: log}
}

// Sample samples every VM of the state directory, sorted by name;
// stopped VMs are in it too, with Running false. It fails only when the
// state directory cannot be listed: what one VM does not tell goes into
// its Problems. ctx bounds the questions to hypervisors.
//
// VMs run by systemd need SampleWith: nothing records their process in
// the state directory, so Sample sees them as not running.
func (s *Sampler) Sample(ctx context.Context) ([]VMSample, error) {
	return s.SampleWith(ctx, nil)
}

// SampleWith is Sample for a caller that knows more than the state
// directory: pids name the hypervisor process of VMs by name. systemd
// runs bin/microvm-run itself, and nothing records that process in the
// VM directory, so pass the manager.Status.PID (systemd's MainPID) of
// the running VMs; the daemon's and `microvm run`'s VMs record theirs,
// and a pid for them changes nothing. A pid that no longer runs is
// ignored.
func (s *Sampler) SampleWith(ctx context.Context, pids map[string]int) ([]VMSample, error) {
	vms, err := s.State.List()
	if err != nil {
		return nil, err
	}
	return s.sampleVMs(ctx, withPIDs(vms, pids)), nil
}

// SampleVM samples the VM name alone.
func (s *Sampler) SampleVM(ctx context.Context, name string) VMSample {
	return s.sampleOne(ctx, name, 0)
}

// sampleOne samples the VM name, whose process is pid when the state
// directory records none (0: none).
func (s *Sampler) sampleOne(ctx context.Context, name string, pid int) VMSample {
	return s.sampleVMs(ctx, withPIDs([]state.VM{s.State.Inspect(name)}, map[string]int{name: pid}))[0]
}

// withPIDs makes the VMs that pids name running as their processes,
// where the state directory records none running.
func withPIDs(vms []state.VM, pids map[string]int) []state.VM {
	for i := range vms {
		vm := &vms[i]
		if vm.Running || pids[vm.Name] <= 0 {
			continue
		}
		if p, err := state.ProcessOf(pids[vm.Name]); err == nil {
			vm.Process, vm.Running = &p, true
		}
	}
	return vms
}
