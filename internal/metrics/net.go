package metrics

import "github.com/prometheus/procfs"

// netCounters reads every interface's counters at once from
// /proc/net/dev: one read per scrape instead of eight files per
// interface under /sys/class/net/ID/statistics (the same counters,
// dev_get_stats), and it shows the sampler's own network namespace,
// which is where the taps are, while /sys shows the one it was mounted
// in.
func netCounters(fs procfs.FS) (procfs.NetDev, error) { return fs.NetDev() }

// netSample is the interface id of kind ("tap" or "macvtap") from dev,
// turned to the guest's point of view (see NetSample).
func netSample(dev procfs.NetDev, id, kind string) NetSample {
	n := NetSample{Interface: id, Kind: kind}
	l, ok := dev[id]
	if !ok {
		n.Missing = true
		return n
	}
	n.RxBytes, n.TxBytes = l.RxBytes, l.TxBytes
	n.RxPackets, n.TxPackets = l.RxPackets, l.TxPackets
	n.RxErrors, n.TxErrors = l.RxErrors, l.TxErrors
	n.RxDropped, n.TxDropped = l.RxDropped, l.TxDropped
	if kind == "tap" {
		n.RxBytes, n.TxBytes = n.TxBytes, n.RxBytes
		n.RxPackets, n.TxPackets = n.TxPackets, n.RxPackets
		n.RxErrors, n.TxErrors = n.TxErrors, n.RxErrors
		n.RxDropped, n.TxDropped = n.TxDropped, n.RxDropped
	}
	return n
}
