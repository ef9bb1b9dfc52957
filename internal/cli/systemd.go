package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostconfig"
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
that are already up to date are left alone. With systemd running and the
default DIR, systemd is reloaded.`,
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
			units, err := systemd.Render(systemd.Options{Microvm: self, StateDir: root, User: cfg.User, Group: cfg.Group, Autostart: autostart})
			if err != nil {
				return err
			}
			if err := systemd.Install(prefix, units); err != nil {
				return err
			}
			e.printf("Installed %d units in %s\n", len(units), prefix)
			if _, err := os.Stat("/run/systemd/system"); err == nil && !cmd.Flags().Changed("prefix") {
				if out, err := exec.CommandContext(cmd.Context(), "systemctl", "daemon-reload").CombinedOutput(); err != nil {
					return fmt.Errorf("systemctl daemon-reload: %w: %s", err, strings.TrimSpace(string(out)))
				}
			}
			return nil
		},
	}
	install.Flags().StringVar(&prefix, "prefix", "/etc/systemd/system", "directory to write the units to")
	install.Flags().StringArrayVar(&autostartArgs, "autostart", nil, "VMs microvms.target starts at boot (repeatable, or comma-separated)")
	cmd.AddCommand(install)
	return cmd
}
