package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// managers finds who manages the VMs of the state directory: the
// daemon, systemd or nobody (package manager decides, per VM). The
// caller closes it.
func (e *env) managers(ctx context.Context) (*manager.Host, error) {
	d, err := e.state()
	if err != nil {
		return nil, err
	}
	return manager.Open(ctx, d, manager.Options{Runtime: state.RuntimeDir(), Ladder: e.configuredLadderOf, Addresses: vmAddresses(d)})
}

// managerOf returns who manages name, with the Host to close; doing
// ("starting", "stopping") is the errors' context.
func (e *env) managerOf(ctx context.Context, doing, name string) (manager.Manager, func(), error) {
	if err := state.CheckName(name); err != nil {
		return nil, nil, usageError("%v", err)
	}
	h, err := e.managers(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %q: %w", doing, name, err)
	}
	m, err := h.For(ctx, name)
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("%s %q: %w", doing, name, err)
	}
	return m, h.Close, nil
}

// configuredLadderOf is how host.toml says to stop name (zero times where
// it says nothing, or where it cannot be read: it may be root's only).
func (e *env) configuredLadderOf(name string) supervisor.Ladder {
	if cfg, err := hostconfig.Load(e.hostConfigPath()); err == nil {
		return supervisor.LadderOf(cfg.StopFor(name))
	}
	return supervisor.Ladder{}
}

func newStartCmd(e *env, verb string) *cobra.Command {
	short := "Start VMs and keep them running (through the daemon or systemd)"
	if verb == "restart" {
		short = "Stop VMs gracefully and start them again, booting their current runner"
	}
	return &cobra.Command{
		Use:   verb + " NAME...",
		Short: short,
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, names []string) error {
			if err := checkNames(names); err != nil {
				return err
			}
			var errs []error
			for _, name := range names {
				if err := startVM(cmd.Context(), e, verb, name); err != nil {
					errs = append(errs, err)
					continue
				}
				e.printf("%s %s.\n", map[string]string{"start": "Started", "restart": "Restarted"}[verb], name)
			}
			return errors.Join(errs...)
		},
	}
}

// startVM starts or restarts name through whoever manages it.
func startVM(ctx context.Context, e *env, verb, name string) error {
	doing := map[string]string{"start": "starting", "restart": "restarting"}[verb]
	m, done, err := e.managerOf(ctx, doing, name)
	if err != nil {
		return err
	}
	defer done()
	if verb == "restart" {
		return m.Restart(ctx, name)
	}
	return m.Start(ctx, name)
}

func newStatusCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [NAME...] [--json]",
		Short: "Show what runs: state, pid, restarts, address, last exit",
		Long: `Show each VM's state: stopped, starting, running, stopping, failed
(crash loop; start it by hand) or broken (booted, but nothing runs). The
daemon or systemd, whichever manages the VM, also knows its restarts and
last exit (under systemd from microvm@NAME: MainPID, ActiveEnterTimestamp,
NRestarts, ExecMainCode/ExecMainStatus and Result). For a VM nobody
manages, the state comes from the state directory, and the last exit,
with the console's last lines when that run failed, from the record
microvm run left. ADDRESS is the guest's address on managed networks
(host.toml [network.NAME]), from their DHCP leases. --json adds
managedBy: daemon, systemd or none.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if err := checkNames(names); err != nil {
				return err
			}
			sts, err := statuses(cmd.Context(), e)
			if err != nil {
				return err
			}
			var unknown error
			if len(names) > 0 {
				if sts, unknown = pickStatuses(sts, names); len(sts) == 0 {
					return unknown
				}
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return errors.Join(enc.Encode(sts), unknown)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tPID\tRESTARTS\tSINCE\tADDRESS\tLAST EXIT")
			for _, s := range sts {
				pid, since := "-", "-"
				if s.PID > 0 {
					pid = fmt.Sprint(s.PID)
				}
				if !s.Since.IsZero() {
					since = time.Since(s.Since).Round(time.Second).String()
				}
				addr := "-"
				if len(s.Addresses) > 0 {
					addr = strings.Join(s.Addresses, ",")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.State, pid, s.Restarts, since, addr, lastExitCell(s.Status))
			}
			plain := make([]supervisor.Status, len(sts))
			for i := range sts {
				plain[i] = sts[i].Status
			}
			return errors.Join(tw.Flush(), printDetails(e.stdout, plain), unknown)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// checkNames refuses, all at once, the names that cannot be VM names.
func checkNames(names []string) error {
	var errs []error
	for _, n := range names {
		errs = append(errs, state.CheckName(n))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError("%v", err)
	}
	return nil
}

// pickStatuses keeps the statuses of names, in the order of sts, and
// reports every name without one.
func pickStatuses(sts []manager.Status, names []string) ([]manager.Status, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var keep []manager.Status
	for _, s := range sts {
		if want[s.Name] {
			keep = append(keep, s)
			delete(want, s.Name)
		}
	}
	var errs []error
	for _, n := range names {
		if want[n] {
			errs = append(errs, fmt.Errorf("status %q: %w", n, state.ErrNotExist))
			delete(want, n) // a name given twice is reported once
		}
	}
	return keep, errors.Join(errs...)
}

// statuses reports every VM, each from whoever manages it.
func statuses(ctx context.Context, e *env) ([]manager.Status, error) {
	h, err := e.managers(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Statuses(ctx)
}
