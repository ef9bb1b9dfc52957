package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostprep"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// newHostCmd groups the root-side steps of running a VM. `microvm run`
// and the supervisor do them all; systemd units and runner scripts call
// them one by one.
func newHostCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Prepare the host for VMs (cloud-init seeds, images, taps, macvtaps, VFIO, virtiofsd, networks, user)",
	}
	type stepVerb struct {
		use, short string
		teardown   bool
		do         func(p *hostprep.Prep) func(ctx context.Context, vm, vmDir string, r *runner.Runner) error
		helper     func(h *runner.Helpers) *bool
	}
	for _, v := range []stepVerb{
		{"tap-up", "Create the VM's taps (from current)", false, func(p *hostprep.Prep) stepFunc { return p.TapUp }, func(h *runner.Helpers) *bool { return &h.TapUp }},
		{"tap-down", "Delete the VM's taps (from booted)", true, func(p *hostprep.Prep) stepFunc { return p.TapDown }, func(h *runner.Helpers) *bool { return &h.TapDown }},
		{"macvtap-up", "Create the VM's macvtaps (from current)", false, func(p *hostprep.Prep) stepFunc { return p.MacvtapUp }, func(h *runner.Helpers) *bool { return &h.MacvtapUp }},
		{"macvtap-down", "Delete the VM's macvtaps (from booted)", true, func(p *hostprep.Prep) stepFunc { return p.MacvtapDown }, func(h *runner.Helpers) *bool { return &h.MacvtapDown }},
		{"pci-setup", "Bind the VM's PCI devices to vfio-pci (from current)", false, func(p *hostprep.Prep) stepFunc { return p.PCISetup }, func(h *runner.Helpers) *bool { return &h.PCISetup }},
		{"pci-teardown", "Give the VM's PCI devices back to their drivers", true, func(p *hostprep.Prep) stepFunc { return p.PCITeardown }, func(h *runner.Helpers) *bool { return &h.PCISetup }},
		// No runner ships a script for the seed: --builtin changes nothing.
		{"cloud-init-up", "Write the VM's cloud-init seed into its directory (from current)", false, func(p *hostprep.Prep) stepFunc { return p.SeedUp }, func(*runner.Helpers) *bool { return new(bool) }},
		{"cloud-init-down", "Remove the VM's cloud-init seed (from booted)", true, func(p *hostprep.Prep) stepFunc { return p.SeedDown }, func(*runner.Helpers) *bool { return new(bool) }},
		{"image-up", "Flatten an image VM's image unless cached, and link its root disk and initramfs into its directory (from current)", false, func(p *hostprep.Prep) stepFunc { return p.ImageUp }, func(*runner.Helpers) *bool { return new(bool) }},
		{"image-down", "Remove an image VM's links to its root disk and initramfs (from booted)", true, func(p *hostprep.Prep) stepFunc { return p.ImageDown }, func(*runner.Helpers) *bool { return new(bool) }},
	} {
		var runnerDir string
		var builtin bool
		c := &cobra.Command{
			Use:   v.use + " NAME [--runner DIR]",
			Short: v.short,
			Args:  args(cobra.ExactArgs(1)),
			RunE: func(cmd *cobra.Command, a []string) error {
				d, r, err := e.hostStepRunner(a[0], runnerDir, v.teardown)
				if err != nil {
					return err
				}
				if builtin {
					// Called by the runner's own script: do not call it back.
					*v.helper(&r.Helpers) = false
				}
				p, err := e.prep()
				if err != nil {
					return err
				}
				return v.do(p)(cmd.Context(), a[0], d.VMPath(a[0]), r)
			},
		}
		c.Flags().StringVar(&runnerDir, "runner", "", "runner package to read instead of the VM's current/booted link")
		c.Flags().BoolVar(&builtin, "builtin", false, "do the step here even if the runner ships its own script")
		cmd.AddCommand(c)
	}
	cmd.AddCommand(newHostVirtiofsdCmd(e), newHostInitCmd(e), newHostBootedCmd(e, true), newHostBootedCmd(e, false), newHostNetworkCmd(e), newHostRecordExitCmd(e))
	return cmd
}

type stepFunc = func(ctx context.Context, vm, vmDir string, r *runner.Runner) error

// hostStepRunner loads the runner a step works from: current for setup,
// booted for teardown (current when nothing is booted), or dir.
func (e *env) hostStepRunner(name, dir string, teardown bool) (*state.Dir, *runner.Runner, error) {
	if err := state.CheckName(name); err != nil {
		return nil, nil, usageError("%v", err)
	}
	d, err := e.state()
	if err != nil {
		return nil, nil, err
	}
	if dir == "" {
		vm := d.Inspect(name)
		if vm.Broken() {
			return nil, nil, fmt.Errorf("VM %q: %s", name, vm.Problems[0])
		}
		dir = vm.Current
		if teardown && vm.Booted != "" {
			dir = vm.Booted
		}
	}
	dir, err = checkTrusted(d, dir)
	if err != nil {
		return nil, nil, err
	}
	r, err := runner.Load(dir)
	if err != nil {
		return nil, nil, invalidRunner(dir, err)
	}
	return d, r, nil
}

// newHostVirtiofsdCmd runs the VM's virtiofsd fleet in the foreground
// until SIGTERM/SIGINT: the long-running service form.
func newHostVirtiofsdCmd(e *env) *cobra.Command {
	var runnerDir string
	c := &cobra.Command{
		Use:   "virtiofsd NAME [--runner DIR]",
		Short: "Run one virtiofsd per share of the VM until stopped",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			d, r, err := e.hostStepRunner(a[0], runnerDir, false)
			if err != nil {
				return err
			}
			r.Helpers.VirtiofsdRun = false // this is the built-in fleet
			p, err := e.prep()
			if err != nil {
				return err
			}
			vmDir := d.VMPath(a[0])
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := p.VirtiofsdStart(ctx, a[0], vmDir, r); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "microvm: virtiofsd ready for %d share(s) of %s\n", len(r.Shares), a[0])
			// Under systemd (Type=notify) the VM starts only now, with
			// every socket listening (microvm.nix #114, #257, #382).
			daemon.SdNotify(false, daemon.SdNotifyReady)
			failed := make(chan error, 1)
			go func() { failed <- p.VirtiofsdWait(vmDir) }()
			var runErr error
			select {
			case <-ctx.Done():
			case runErr = <-failed:
			}
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			return errors.Join(runErr, p.VirtiofsdStop(context.WithoutCancel(ctx), a[0], vmDir, r))
		},
	}
	c.Flags().StringVar(&runnerDir, "runner", "", "runner package to read instead of the VM's current link")
	return c
}

func newHostInitCmd(e *env) *cobra.Command {
	var dryRun bool
	c := &cobra.Command{
		Use:   "init [--dry-run]",
		Short: "Set up the host once: VM user and group, kernel modules, state directory",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadHostConfig()
			if err != nil {
				return err
			}
			return hostprep.Init(cmd.Context(), cfg, e.stateRoot, dryRun, e.stdout)
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "only say what would be done")
	return c
}

// newHostBootedCmd sets or removes the VM's booted link: the
// microvm-set-booted@ unit's steps, run as root (booted is a record root
// relies on; the VM user must not write it), so that booted
// exists from before the first setup step until after the last teardown
// (microvm.nix removed it first and left taps behind, #469).
func newHostBootedCmd(e *env, set bool) *cobra.Command {
	use, short := "unset-booted NAME", "Remove the VM's booted link"
	if set {
		use, short = "set-booted NAME", "Point the VM's booted link at its current runner"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := state.CheckName(a[0]); err != nil {
				return usageError("%v", err)
			}
			d, err := e.state()
			if err != nil {
				return err
			}
			if !set {
				return d.RemoveLink(a[0], state.BootedLink)
			}
			// Refuse, with the reason, what could not run: under
			// systemd this unit's failure is what keeps the helpers
			// from running, and its message is what the journal says.
			if _, _, err := e.hostStepRunner(a[0], "", false); err != nil {
				return fmt.Errorf("not booting %q: %w", a[0], err)
			}
			cur, err := d.ReadLink(a[0], state.CurrentLink)
			if err != nil {
				return err
			}
			if cur == "" {
				return fmt.Errorf("VM %q has no current runner", a[0])
			}
			return d.SetLink(a[0], state.BootedLink, cur)
		},
	}
}
