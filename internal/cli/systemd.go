package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/supervisor"
	"github.com/microvm-host/microvm/internal/systemd"
)

func newSystemdCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "systemd",
		Short: "Run VMs as systemd services",
	}
	var prefix string
	var autostartArgs []string
	install := &cobra.Command{
		Use:   "install [--prefix DIR] [--autostart NAME]...",
		Short: "Write microvm@.service, its helper units and microvms.target",
		Long: `Write the unit files (microvm@.service, microvm-set-booted@,
microvm-cloud-init@, microvm-tap-interfaces@, microvm-macvtap-interfaces@,
microvm-pci-devices@, microvm-virtiofsd@ and microvms.target) into DIR, with this binary, the
state directory and the host configuration's VM user and group. Files
that are already up to date are left alone. microvm@ restarts VMs by the
host configuration's restart policy (restart, restartDelay; restartBurst
starts within restartWindow fail it) and gives them its stopTimeout.
With systemd running and the default DIR, microvms.target is enabled (it
starts the --autostart VMs at boot) and systemd is reloaded.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Split here, not with a StringSlice flag: its CSV parsing
			// silently cut "web\nrm -rf" to "web".
			var autostart []string
			for _, a := range autostartArgs {
				autostart = append(autostart, strings.Split(a, ",")...)
			}
			if err := checkNames(autostart); err != nil {
				return err
			}
			cfg, err := hostconfig.Load(e.hostConfigPath())
			if err != nil {
				return err
			}
			// The binary NewBuilder resolved: what generated runners call, too.
			self := e.builder.Microvm
			root, err := filepath.Abs(e.stateRoot)
			if err != nil {
				return err
			}
			// The units restart VMs as the daemon would (host.toml's
			// restart, restartDelay, restartBurst, restartWindow).
			policy := restartPolicy(cfg)
			if err := policy.Check(); err != nil {
				return fmt.Errorf("%s: %w", e.hostConfigPath(), err)
			}
			if cfg.Restart == "" {
				// The daemon's default, on-failure, keeps a guest that
				// powered off stopped and restarts one that rebooted,
				// because it learns which it was from the hypervisor. A
				// unit cannot: qemu exits 0 for both. Under on-failure a
				// guest's reboot would stop the VM for good, so the units
				// default to microvm.nix's always (a guest cannot stay
				// off; microvm stop can).
				policy.Mode = supervisor.RestartAlways
			}
			units, err := systemd.Render(systemd.Options{
				Microvm: self, StateDir: root, User: cfg.User, Group: cfg.Group, Autostart: autostart,
				StopTimeout: cfg.StopTimeout.Duration,
				Restart:     policy.Mode, RestartDelay: policy.Delay,
				StartLimitBurst: policy.Burst, StartLimitInterval: policy.Window,
			})
			if err != nil {
				return err
			}
			if err := systemd.Install(prefix, units); err != nil {
				return err
			}
			e.printf("Installed %d units in %s\n", len(units), prefix)
			if _, err := os.Stat(manager.DefaultSystemdRunning); err != nil || cmd.Flags().Changed("prefix") {
				return nil
			}
			if err := systemd.Activate(cmd.Context()); err != nil {
				return err
			}
			e.printf("Enabled %s and reloaded systemd.\n", systemd.Target)
			return nil
		},
	}
	install.Flags().StringVar(&prefix, "prefix", "/etc/systemd/system", "directory to write the units to")
	install.Flags().StringArrayVar(&autostartArgs, "autostart", nil, "VMs microvms.target starts at boot (repeatable, or comma-separated)")
	cmd.AddCommand(install)
	return cmd
}

// restartPolicy is the host configuration's restart policy: what the
// daemon applies, and what the systemd units say as far as they can.
func restartPolicy(cfg *hostconfig.Config) supervisor.Policy {
	p := supervisor.DefaultPolicy
	if cfg.Restart != "" {
		p.Mode = cfg.Restart
	}
	if cfg.RestartDelay.Duration > 0 {
		p.Delay = cfg.RestartDelay.Duration
		p.MaxDelay = max(p.MaxDelay, p.Delay)
	}
	if cfg.RestartBurst > 0 {
		p.Burst = cfg.RestartBurst
	}
	if cfg.RestartWindow.Duration > 0 {
		p.Window = cfg.RestartWindow.Duration
	}
	return p
}
