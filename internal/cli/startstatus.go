package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

func (e *env) client() *api.Client { return api.NewClient(state.RuntimeDir()) }

// viaDaemonOrSystemd runs verb on name through the daemon, or through
// systemctl when systemd manages the VM.
func viaDaemonOrSystemd(ctx context.Context, e *env, verb, name string) error {
	if err := state.CheckName(name); err != nil {
		return usageError("%v", err)
	}
	if c := e.client(); c.Available() {
		return c.Do(ctx, verb, name, api.Bound(verb, daemonLadder(e, name, supervisor.Ladder{})))
	}
	if systemdManages(name) {
		unit := "microvm@" + name + ".service"
		out, err := exec.CommandContext(ctx, "systemctl", verb, unit).CombinedOutput()
		if err != nil {
			return fmt.Errorf("systemctl %s %s: %w: %s", verb, unit, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return fmt.Errorf("%s %q: %w (start one with `microvm daemon`, install systemd units, or use `microvm run`)", verb, name, api.ErrNoDaemon)
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
			var errs []error
			for _, name := range names {
				if err := viaDaemonOrSystemd(cmd.Context(), e, verb, name); err != nil {
					errs = append(errs, err)
					continue
				}
				e.printf("%s %s.\n", map[string]string{"start": "Started", "restart": "Restarted"}[verb], name)
			}
			return errors.Join(errs...)
		},
	}
}

func newStatusCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [NAME...] [--json]",
		Short: "Show what runs: state, pid, restarts, address, last exit",
		Long: `Show each VM's state: stopped, starting, running, stopping, failed
(crash loop; start it by hand) or broken (booted, but nothing runs). With a
daemon it also knows restarts; without one the state comes from the state
directory alone. The last exit, with the console's last lines when that
run failed, comes from the daemon or from the record microvm run left.
ADDRESS is the guest's address on managed networks (host.toml
[network.NAME]), from their DHCP leases.`,
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.State, pid, s.Restarts, since, addr, lastExitCell(s))
			}
			return errors.Join(tw.Flush(), printDetails(e.stdout, sts), unknown)
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
func pickStatuses(sts []supervisor.Status, names []string) ([]supervisor.Status, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var keep []supervisor.Status
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

// statuses asks the daemon, or derives the states from the state
// directory when none runs.
func statuses(ctx context.Context, e *env) ([]supervisor.Status, error) {
	if c := e.client(); c.Available() {
		return c.Statuses(ctx)
	}
	d, err := e.state()
	if err != nil {
		return nil, err
	}
	dm := &supervisor.Daemon{State: d, Runtime: state.RuntimeDir(), Addresses: vmAddresses(d)}
	sts, err := dm.Statuses()
	if err != nil {
		return nil, err
	}
	// Under systemd, the units say what runs (one systemctl call).
	active := activeUnits(ctx)
	for i := range sts {
		if active["microvm@"+sts[i].Name+".service"] {
			sts[i].State = supervisor.Running
		}
	}
	return sts, nil
}
