package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/metrics"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// daemonMetrics registers what the daemon exposes: its VMs (sampled on
// each scrape, and their starts as dm times them), its Go runtime and
// process, and its API's requests (api.Metrics, returned).
func daemonMetrics(reg *prometheus.Registry, dm *supervisor.Daemon, log *slog.Logger) *api.Metrics {
	vms := metrics.NewCollector(metrics.NewSampler(dm.State, dm.Runtime, log),
		func(context.Context) ([]supervisor.Status, error) { return dm.Statuses() })
	dm.StartTimed = vms.StartTimed
	reg.MustRegister(vms, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return api.NewMetrics(reg)
}

// serveMetrics serves GET /metrics of reg on the TCP address addr
// (host.toml's metricsListen), without authentication: see
// hostconfig.Config.MetricsListen for what it exposes. Failing to listen
// fails the daemon's start: Prometheus would otherwise only see it down.
func serveMetrics(addr string, reg *prometheus.Registry, m *api.Metrics, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metricsListen: %w", err)
	}
	srv := &http.Server{
		Handler:           api.WithMetrics(http.NotFoundHandler(), reg, m),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      metrics.ScrapeTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute, // Prometheus keeps its connection between scrapes
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "address", ln.Addr().String())
	return func() { srv.Close() }, nil
}
