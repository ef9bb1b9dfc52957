package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostnet"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/vmnet"
)

// startNetworks brings up host.toml's managed networks and serves their
// DHCP until ctx is done (the daemon's). A network that cannot come up is
// logged, not fatal: VMs on other networks still run, and a VM on it
// fails at its start with the same error. stop waits for the servers
// and removes the networks no VM uses any more.
func startNetworks(ctx context.Context, e *env, log *slog.Logger) (stop func() error, err error) {
	if os.Geteuid() != 0 || len(e.cfg.Network) == 0 {
		return func() error { return nil }, nil
	}
	nh, err := hostnet.New("/dev", log)
	if err != nil {
		return nil, err
	}
	m := e.networks(nh, log)
	var up []string
	for _, n := range m.Names() {
		if err := m.Up(n); err != nil {
			log.Error("network not up", "network", n, "err", err)
			continue
		}
		up = append(up, n)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, up) }()
	return func() error {
		errs := []error{<-done}
		for _, n := range up {
			errs = append(errs, m.DownUnused(n))
		}
		nh.Close()
		return errors.Join(errs...)
	}, nil
}

// newHostNetworkCmd manages host.toml's networks by hand or from a
// service manager: up and down, and serve (their DHCP, for hosts that run
// VMs under systemd rather than the daemon).
func newHostNetworkCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Bring managed networks (host.toml [network.NAME]) up or down, serve their DHCP",
		Long: `Managed networks are host.toml's [network.NAME] tables: a bridge of
microvm's own with the host's address, IPv4 NAT through an nftables table
of its own, and DHCP with addresses stable per guest MAC. The daemon
brings them up and serves them by itself, and a VM's start brings up the
networks its taps join; these verbs are for doing it by hand. NAME
defaults to every configured network.`,
	}
	var force bool
	down := &cobra.Command{
		Use:   "down [--force] [NAME...]",
		Short: "Remove the networks' bridges and NAT tables, and IPv4 forwarding if microvm turned it on",
		RunE: func(cmd *cobra.Command, names []string) error {
			return forNetworks(e, names, true, func(m *vmnet.Manager, n string) error { return m.Down(n, force) })
		},
	}
	down.Flags().BoolVar(&force, "force", false, "remove a bridge even while VMs' taps are attached to it")
	cmd.AddCommand(&cobra.Command{
		Use:   "up [NAME...]",
		Short: "Create the networks' bridges, addresses and NAT (idempotent)",
		RunE: func(cmd *cobra.Command, names []string) error {
			return forNetworks(e, names, false, func(m *vmnet.Manager, n string) error { return m.Up(n) })
		},
	}, down, &cobra.Command{
		Use:   "serve [NAME...]",
		Short: "Bring the networks up and serve their DHCP until stopped (the systemd service form)",
		RunE: func(cmd *cobra.Command, names []string) error {
			var m *vmnet.Manager
			err := forNetworks(e, names, false, func(mm *vmnet.Manager, n string) error { m = mm; return mm.Up(n) })
			if err != nil {
				return err
			}
			if len(names) == 0 {
				names = m.Names()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			daemon.SdNotify(false, daemon.SdNotifyReady)
			fmt.Fprintf(e.stderr, "microvm: serving DHCP on %v (or waiting for whoever serves it now)\n", names)
			return m.Serve(ctx, names)
		},
	})
	return cmd
}

// forNetworks runs do for each named network, or each configured one,
// as root. down also accepts names host.toml no longer has.
func forNetworks(e *env, names []string, down bool, do func(m *vmnet.Manager, name string) error) error {
	cfg, err := e.loadHostConfig()
	if err != nil {
		return err
	}
	var bad []error
	for _, n := range names {
		if err := runner.CheckNetworkName(n); err != nil {
			bad = append(bad, err)
		} else if _, ok := cfg.Network[n]; !ok && !down {
			bad = append(bad, fmt.Errorf("network %q is not configured in %s; add [network.%s]", n, e.hostConfigPath(), n))
		}
	}
	if err := errors.Join(bad...); err != nil {
		return usageError("%v", err)
	}
	if len(cfg.Network) == 0 && len(names) == 0 {
		return fmt.Errorf("%s configures no network; add [network.default] (see the README, \"Default network\")", e.hostConfigPath())
	}
	if os.Geteuid() != 0 {
		return errors.New("managed networks need root (bridges, nftables, sysctl)")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	nh, err := hostnet.New("/dev", log)
	if err != nil {
		return err
	}
	defer nh.Close()
	m := e.networks(nh, log)
	if len(names) == 0 {
		names = m.Names()
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, do(m, n))
	}
	return errors.Join(errs...)
}
