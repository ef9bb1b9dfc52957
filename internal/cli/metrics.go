package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/metrics"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

func newMetricsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "metrics",
		Short: "Print every VM's Prometheus metrics",
		Long: `Print the metrics the daemon serves on GET /metrics (its API socket,
and host.toml's metricsListen), in Prometheus's text format: each VM's
state, restarts, last exit, start times, the CPU, memory and I/O of its
hypervisor, its taps' and macvtaps' traffic, its virtiofsd daemons and,
where the hypervisor tells, its disks and balloon (the README lists the
names). With a daemon running they are the daemon's, its API's and Go
runtime's included; without one (a host run by systemd) they are read
here: under systemd from each VM's unit and its cgroup, and from the same
files otherwise. Start times are the daemon's alone: without it, no one
watched the starts. Nothing is started to read them.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printMetrics(cmd.Context(), e)
		},
	}
}

func printMetrics(ctx context.Context, e *env) error {
	if c := api.NewClient(state.RuntimeDir()); c.Available() {
		return c.Metrics(ctx, e.stdout)
	}
	d, err := e.state()
	if err != nil {
		return err
	}
	h, err := e.managers(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	statuses := func(ctx context.Context) ([]supervisor.Status, error) {
		sts, err := h.Statuses(ctx)
		out := make([]supervisor.Status, len(sts))
		for i := range sts {
			out[i] = sts[i].Status
		}
		return out, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(metrics.NewSampler(d, state.RuntimeDir(), slog.New(slog.DiscardHandler)), statuses))
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("reading metrics: %w", err)
	}
	enc := expfmt.NewEncoder(e.stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
	var errs []error
	for _, mf := range mfs {
		errs = append(errs, enc.Encode(mf))
	}
	return errors.Join(errs...)
}
