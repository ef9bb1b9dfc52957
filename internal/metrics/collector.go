package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// Collector is the Prometheus collector of a host's VMs: their states
// as their supervisor reports them, joined with a Sample of what they
// use, taken on each scrape (Collect) and never in between.
type Collector struct {
	Sampler *Sampler
	// Statuses are the VMs as their supervisor sees them: the daemon's
	// own, or manager.Host's (systemd's units) for `microvm metrics`.
	Statuses func(ctx context.Context) ([]supervisor.Status, error)
	// Timeout bounds one scrape; zero is ScrapeTimeout.
	Timeout time.Duration

	starts *startHistograms
}

// ScrapeTimeout bounds one scrape: Prometheus's own default scrape
// timeout is 10 s.
const ScrapeTimeout = 5 * time.Second

// NewCollector collects the VMs statuses lists, sampled by s.
func NewCollector(s *Sampler, statuses func(ctx context.Context) ([]supervisor.Status, error)) *Collector {
	return &Collector{Sampler: s, Statuses: statuses, starts: newStartHistograms()}
}

// StartTimed records how long a start took, as supervisor.Daemon's
// StartTimed hook.
func (c *Collector) StartTimed(name string, ready bool, took time.Duration) {
	vm := c.Sampler.State.Inspect(name)
	path := vm.Booted
	if path == "" {
		path = vm.Current
	}
	rf, _ := c.Sampler.runnerFacts(path)
	c.starts.observe(name, rf.hypervisor, ready, took)
}

// Describe sends every description; the collector is a checked one.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
	c.starts.describe(ch)
}

// Collect samples every VM and sends its metrics. A VM's metrics that
// could not be read are left out, not sent as zero; when the statuses
// cannot be had at all, it sends an invalid metric, which fails the
// scrape with the reason.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = ScrapeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	statuses, err := c.Statuses(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descUp, err)
		return
	}
	pids := make(map[string]int, len(statuses))
	for _, st := range statuses {
		if st.State == supervisor.Running && st.PID > 0 {
			pids[st.Name] = st.PID
		}
	}
	samples, err := c.Sampler.SampleWith(ctx, pids)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descCPU, err)
		return
	}
	byName := make(map[string]*VMSample, len(samples))
	for i := range samples {
		byName[samples[i].Name] = &samples[i]
	}
	names := make(map[string]bool, len(statuses))
	for _, st := range statuses {
		names[st.Name] = true
		vs := byName[st.Name]
		if vs == nil {
			vs = &VMSample{Name: st.Name}
		}
		for _, l := range vs.Problems {
			if c.Sampler.Log != nil {
				c.Sampler.Log.Debug("sampling", "vm", st.Name, "problem", l)
			}
		}
		collectVM(ch, st, vs)
	}
	c.starts.collect(ch, names)
}

// exitReasons turn supervisor.Outcome.How into the last_exit_info reason
// label: the words of libvirt's and Incus's metrics where they have one.
var exitReasons = map[string]string{
	supervisor.PoweredOff: "poweroff",
	supervisor.Rebooted:   "reboot",
	supervisor.ShutDown:   "shutdown",
	supervisor.Exited:     "exited",
	supervisor.Terminated: "terminated",
	supervisor.Killed:     "killed",
	supervisor.Crashed:    "crash",
	supervisor.NotStarted: "not-started",
}

// states are every state of supervisor.Status, each a state series.
var states = []string{supervisor.Stopped, supervisor.Starting, supervisor.Running, supervisor.Stopping, supervisor.Failed, supervisor.Broken}

func collectVM(ch chan<- prometheus.Metric, st supervisor.Status, vs *VMSample) {
	name, hv := st.Name, vs.Hypervisor
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name, hv}, extra...)...)
	}
	counter := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{name, hv}, extra...)...)
	}
	for _, s := range states {
		gauge(descState, boolValue(st.State == s), s)
	}
	gauge(descUp, boolValue(st.State == supervisor.Running))
	counter(descRestarts, float64(st.Restarts))
	if st.Exit != nil {
		if r, ok := exitReasons[st.Exit.How]; ok {
			gauge(descLastExit, 1, r)
		}
	}
	gauge(descFsdShares, float64(vs.Virtiofsd.Shares))
	if !vs.Running {
		return
	}
	if !vs.Started.IsZero() {
		gauge(descStart, float64(vs.Started.UnixMilli())/1e3)
	}
	counter(descCPU, vs.CPUSeconds)
	gauge(descRSS, float64(vs.RSSBytes))
	if vs.PSSBytes > 0 {
		gauge(descPSS, float64(vs.PSSBytes))
	}
	if vs.CgroupMemoryBytes > 0 {
		gauge(descCgMem, float64(vs.CgroupMemoryBytes))
	}
	counter(descIORead, float64(vs.IOReadBytes))
	counter(descIOWrt, float64(vs.IOWriteBytes))
	for _, n := range vs.Net {
		if n.Missing {
			continue
		}
		id := n.Interface
		counter(descNetRxBytes, float64(n.RxBytes), id)
		counter(descNetTxBytes, float64(n.TxBytes), id)
		counter(descNetRxPackets, float64(n.RxPackets), id)
		counter(descNetTxPackets, float64(n.TxPackets), id)
		counter(descNetRxErrors, float64(n.RxErrors), id)
		counter(descNetTxErrors, float64(n.TxErrors), id)
		counter(descNetRxDrops, float64(n.RxDropped), id)
		counter(descNetTxDrops, float64(n.TxDropped), id)
	}
	if vs.Virtiofsd.Shares > 0 {
		gauge(descFsdProcs, float64(vs.Virtiofsd.Processes))
		counter(descFsdCPU, vs.Virtiofsd.CPUSeconds)
	}
	for _, d := range vs.Disks {
		counter(descBlockRdBytes, float64(d.ReadBytes), d.Device)
		counter(descBlockWrBytes, float64(d.WriteBytes), d.Device)
		counter(descBlockRdOps, float64(d.ReadOps), d.Device)
		counter(descBlockWrOps, float64(d.WriteOps), d.Device)
	}
	if vs.BalloonBytes != nil {
		gauge(descBalloon, float64(*vs.BalloonBytes))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
