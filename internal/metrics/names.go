package metrics

import "github.com/prometheus/client_golang/prometheus"

// The metrics, named after libvirt's exporter and Incus's /1.0/metrics
// where they have one (README, "Metrics", lists them). Every VM metric
// has the labels name and hypervisor.
const namespace = "microvm"

var vmLabels = []string{"name", "hypervisor"}

func vmDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_vm_"+name, help, append(append([]string{}, vmLabels...), extra...), nil)
}

var (
	descState = vmDesc("state",
		"1 for the state the VM is in, 0 for the others (stopped, starting, running, stopping, failed, broken).", "state")
	descUp       = vmDesc("up", "1 while the VM's hypervisor runs (and, for runners that forward sd_notify, its guest said it is ready).")
	descRestarts = vmDesc("restarts_total", "Automatic restarts by the supervisor's restart policy (since the daemon started; systemd's NRestarts).")
	descStart    = vmDesc("start_time_seconds", "When the running hypervisor process started, in seconds since the epoch.")
	descLastExit = vmDesc("last_exit_info",
		"How the VM's last run ended, as the reason label (poweroff, reboot, shutdown, exited, terminated, killed, crash, not-started); always 1.", "reason")

	descCPU    = vmDesc("cpu_seconds_total", "CPU time (user and system) of the hypervisor process, or of the VM's systemd unit.")
	descRSS    = vmDesc("memory_rss_bytes", "Resident memory of the hypervisor process.")
	descPSS    = vmDesc("memory_pss_bytes", "Proportional resident memory of the hypervisor process (shared pages divided among their sharers).")
	descCgMem  = vmDesc("memory_cgroup_bytes", "memory.current of the VM's systemd unit (page cache included); only for VMs run by systemd.")
	descIORead = vmDesc("io_read_bytes_total", "Bytes the hypervisor process (or unit) had the block layer read.")
	descIOWrt  = vmDesc("io_write_bytes_total", "Bytes the hypervisor process (or unit) had the block layer write.")

	descNetRxBytes   = vmDesc("interface_receive_bytes_total", "Bytes the guest received on a tap or macvtap.", "interface")
	descNetTxBytes   = vmDesc("interface_transmit_bytes_total", "Bytes the guest sent on a tap or macvtap.", "interface")
	descNetRxPackets = vmDesc("interface_receive_packets_total", "Packets the guest received on a tap or macvtap.", "interface")
	descNetTxPackets = vmDesc("interface_transmit_packets_total", "Packets the guest sent on a tap or macvtap.", "interface")
	descNetRxErrors  = vmDesc("interface_receive_errors_total", "Receive errors of a tap or macvtap, guest side.", "interface")
	descNetTxErrors  = vmDesc("interface_transmit_errors_total", "Transmit errors of a tap or macvtap, guest side.", "interface")
	descNetRxDrops   = vmDesc("interface_receive_drops_total", "Packets for the guest dropped on a tap or macvtap.", "interface")
	descNetTxDrops   = vmDesc("interface_transmit_drops_total", "Packets from the guest dropped on a tap or macvtap.", "interface")

	descFsdShares = vmDesc("virtiofsd_shares", "virtiofs shares of the booted runner: one virtiofsd each.")
	descFsdProcs  = vmDesc("virtiofsd_processes", "virtiofsd daemons running for the VM.")
	descFsdCPU    = vmDesc("virtiofsd_cpu_seconds_total", "CPU time of the VM's virtiofsd daemons.")

	descBlockRdBytes = vmDesc("block_read_bytes_total", "Bytes read from a disk, as the hypervisor counts them.", "device")
	descBlockWrBytes = vmDesc("block_write_bytes_total", "Bytes written to a disk, as the hypervisor counts them.", "device")
	descBlockRdOps   = vmDesc("block_read_requests_total", "Read requests to a disk, as the hypervisor counts them.", "device")
	descBlockWrOps   = vmDesc("block_write_requests_total", "Write requests to a disk, as the hypervisor counts them.", "device")
	descBalloon      = vmDesc("memory_balloon_actual_bytes", "The guest's memory as its balloon leaves it (qemu's query-balloon).")
)

// allDescs are the collector's own descriptions (the start histograms
// describe themselves).
var allDescs = []*prometheus.Desc{
	descState, descUp, descRestarts, descStart, descLastExit,
	descCPU, descRSS, descPSS, descCgMem, descIORead, descIOWrt,
	descNetRxBytes, descNetTxBytes, descNetRxPackets, descNetTxPackets,
	descNetRxErrors, descNetTxErrors, descNetRxDrops, descNetTxDrops,
	descFsdShares, descFsdProcs, descFsdCPU,
	descBlockRdBytes, descBlockWrBytes, descBlockRdOps, descBlockWrOps, descBalloon,
}
