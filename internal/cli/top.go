package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/metrics"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/state"
)

func newTopCmd(e *env) *cobra.Command {
	var once bool
	var sortBy string
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "top [--once] [--sort COLUMN] [--interval DURATION]",
		Short: "Show what every VM uses, live: CPU, memory, network, disk",
		Long: `Show every VM of the state directory, refreshed every second, whoever
runs it (the daemon, systemd or microvm run): its state, the CPU its
hypervisor uses (100 is one CPU), its resident memory, what the guest
received and sent on its taps and macvtaps a second, what it read and
wrote on its disks a second (the hypervisor's own counters where it has
them, else the block I/O of its process), its uptime and restarts. Under
systemd the CPU and I/O are those of the unit's cgroup. Sizes are in
binary units (K is 1024 bytes).

Keys: n s c m x t d u r sort by name, state, CPU, memory, received,
sent, disk, uptime or restarts (the same key again reverses), the arrows
and PgUp/PgDn move, q or Ctrl-C quits.

Without a terminal, or with --once, top prints one plain snapshot
instead: it samples twice, --interval apart, for the rates.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			col, err := topSortNamed(sortBy)
			if err != nil {
				return err
			}
			if every <= 0 {
				return usageError("--interval %s: expected a positive duration like 1s", every)
			}
			src, err := newTopSource(e)
			if err != nil {
				return err
			}
			defer src.Close()
			in, out, tty := e.terminal()
			if once || !tty {
				return topSnapshot(cmd.Context(), e, src, col, every)
			}
			return runTopUI(cmd.Context(), in, out, src, col, every)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print one snapshot and exit")
	cmd.Flags().StringVar(&sortBy, "sort", "cpu", "sort by `COLUMN`: name, state, cpu, mem, rx, tx, disk, uptime or restarts")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "time between samples")
	return cmd
}

// terminal returns stdin and stdout when both are a terminal: the live
// view reads keys from one and draws on the other.
func (e *env) terminal() (in, out *os.File, ok bool) {
	in, okIn := e.stdin.(*os.File)
	out, okOut := e.stdout.(*os.File)
	if !okIn || !okOut || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return nil, nil, false
	}
	return in, out, true
}

// topSource samples the VMs for top: their states from whoever manages
// each (package manager), what they use from package metrics, which
// reads /proc, sysfs and the units' cgroups and never starts a process.
type topSource struct {
	e       *env
	host    *manager.Host // nil until opened, and after it failed
	sampler *metrics.Sampler
	prev    map[string]metrics.VMSample
}

func newTopSource(e *env) (*topSource, error) {
	d, err := e.state()
	if err != nil {
		return nil, err
	}
	// The sampler's complaints would tear the live view: what it cannot
	// read shows as "-".
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &topSource{e: e, sampler: metrics.NewSampler(d, state.RuntimeDir(), quiet)}, nil
}

// refresh samples every VM once more.
func (s *topSource) refresh(ctx context.Context) ([]topRow, int, error) {
	if s.host == nil {
		h, err := s.e.managers(ctx)
		if err != nil {
			return nil, 0, err
		}
		s.host = h
	}
	sts, err := s.host.Statuses(ctx)
	if err != nil {
		// A daemon that went away or came up: ask anew next time.
		s.host.Close()
		s.host = nil
		return nil, 0, err
	}
	// systemd records no process of its VMs in the state directory: its
	// MainPID, as status has it, is the hypervisor.
	pids := map[string]int{}
	for _, st := range sts {
		if st.PID > 0 {
			pids[st.Name] = st.PID
		}
	}
	cur, err := s.sampler.SampleWith(ctx, pids)
	if err != nil {
		return nil, 0, err
	}
	rows := topRows(sts, cur, s.prev)
	s.prev = make(map[string]metrics.VMSample, len(cur))
	running := 0
	for _, c := range cur {
		s.prev[c.Name] = c
		if c.Running {
			running++
		}
	}
	return rows, running, nil
}

func (s *topSource) Close() {
	if s.host != nil {
		s.host.Close()
	}
}

// topSnapshot prints the table once, from two samples every apart (one
// when nothing runs: there is no rate to measure).
func topSnapshot(ctx context.Context, e *env, src *topSource, col int, every time.Duration) error {
	rows, running, err := src.refresh(ctx)
	if err != nil {
		return fmt.Errorf("top: %w", err)
	}
	if running > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
		if rows, _, err = src.refresh(ctx); err != nil {
			return fmt.Errorf("top: %w", err)
		}
	}
	sortTopRows(rows, col, topColumns[col].Desc)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	titles := make([]string, len(topColumns))
	for i, c := range topColumns {
		titles[i] = c.Title
	}
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, r := range rows {
		cells := r.cells()
		for i := range cells {
			cells[i] = printable.Text(cells[i])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
