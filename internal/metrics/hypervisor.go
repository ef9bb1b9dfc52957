package metrics

import (
	"context"

	"github.com/microvm-host/microvm/internal/state"
)

// hypervisorStats fills what only the hypervisor can tell — its disks'
// counters and its balloon — where it can tell them:
//   - qemu: QMP query-blockstats and query-balloon (qemuStatsOf);
//   - cloud-hypervisor: vm.counters on its API socket;
//   - firecracker writes its metrics, as deltas since the last write, to
//     a metrics file only when one is configured before boot, which
//     generated runners do not; accumulating them would need a reader
//     for the whole run. Left out.
//   - crosvm, kvmtool, stratovirt and alioth have no such counters on
//     the sockets generated runners open.
func (s *Sampler) hypervisorStats(ctx context.Context, h *host, vm state.VM, p process, underSystemd bool, vs *VMSample) {
	switch vs.Hypervisor {
	case "qemu":
		s.qemuStatsOf(ctx, vm.Dir, vm.Name, p.uid, underSystemd, vs)
	case "cloud-hypervisor":
		cloudHypervisorStatsOf(ctx, h.fs, p.pid, p.uid, vm.Dir, vs)
	}
}
