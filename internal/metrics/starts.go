package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// startBuckets span a unikernel's fraction of a second to a distribution
// guest booting under TCG, whose start times out at 150 s.
var startBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 150}

// startHistograms are the times from a start to running and to ready,
// per VM, as the daemon observes them (supervisor.Daemon.StartTimed).
// Without a daemon nobody observes starts: `microvm metrics` on a
// systemd host has none.
type startHistograms struct {
	running, ready *prometheus.HistogramVec

	mu    sync.Mutex
	names map[string][]prometheus.Labels // series made, to forget removed VMs
}

func newStartHistograms() *startHistograms {
	return &startHistograms{
		running: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "vm", Name: "start_to_running_seconds",
			Help:    "Time from the supervisor starting the VM to its hypervisor running.",
			Buckets: startBuckets,
		}, vmLabels),
		ready: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "vm", Name: "start_to_ready_seconds",
			Help:    "Time from the supervisor starting the VM to its guest saying it is ready (sd_notify), for runners that forward it.",
			Buckets: startBuckets,
		}, vmLabels),
		names: map[string][]prometheus.Labels{},
	}
}

func (h *startHistograms) observe(name, hypervisor string, ready bool, took time.Duration) {
	l := prometheus.Labels{"name": name, "hypervisor": hypervisor}
	vec := h.running
	if ready {
		vec = h.ready
	}
	vec.With(l).Observe(took.Seconds())
	h.mu.Lock()
	h.names[name] = append(h.names[name], l)
	h.mu.Unlock()
}

func (h *startHistograms) describe(ch chan<- *prometheus.Desc) {
	h.running.Describe(ch)
	h.ready.Describe(ch)
}

// collect sends the histograms of the VMs that exist, and forgets those
// of VMs that no longer do.
func (h *startHistograms) collect(ch chan<- prometheus.Metric, exist map[string]bool) {
	h.mu.Lock()
	for name, ls := range h.names {
		if exist[name] {
			continue
		}
		for _, l := range ls {
			h.running.Delete(l)
			h.ready.Delete(l)
		}
		delete(h.names, name)
	}
	h.mu.Unlock()
	h.running.Collect(ch)
	h.ready.Collect(ch)
}
