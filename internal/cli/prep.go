package cli

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/hostnet"
	"github.com/microvm-host/microvm/internal/hostprep"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/vfio"
	"github.com/microvm-host/microvm/internal/virtiofsd"
	"github.com/microvm-host/microvm/internal/vmnet"
)

// hostConfigPath is where the host configuration is read from.
func (e *env) hostConfigPath() string {
	if e.hostConfig != "" {
		return e.hostConfig
	}
	if p := os.Getenv(hostconfig.EnvPath); p != "" {
		return p
	}
	return hostconfig.DefaultPath
}

// hostConfig loads the host configuration once per command.
func (e *env) loadHostConfig() (*hostconfig.Config, error) {
	if e.cfg == nil {
		cfg, err := hostconfig.Load(e.hostConfigPath())
		if err != nil {
			return nil, err
		}
		e.cfg = cfg
	}
	return e.cfg, nil
}

// identity is who VMs run as: the configured VM user as root, else the
// caller.
func (e *env) identity() (hostprep.Identity, error) {
	cfg, err := e.loadHostConfig()
	if err != nil {
		return hostprep.Identity{}, err
	}
	return hostprep.LookupIdentity(cfg)
}

// prep builds the host preparation for this host: taps, macvtaps and
// VFIO only as root (a non-root user runs VMs without them, as itself).
func (e *env) prep() (*hostprep.Prep, error) {
	cfg, err := e.loadHostConfig()
	if err != nil {
		return nil, err
	}
	id, err := hostprep.LookupIdentity(cfg)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := &hostprep.Prep{
		Config:    cfg,
		ID:        id,
		Log:       log,
		Virtiofsd: virtiofsd.Config{Binary: cfg.Virtiofsd},
	}
	if os.Geteuid() == 0 {
		if p.Net, err = hostnet.New("/dev", log); err != nil {
			return nil, err
		}
		p.VFIO = &vfio.Binder{Sys: "/sys", Dev: "/dev", Log: log, Owner: id.UID, Group: id.GID}
		if len(cfg.Network) > 0 {
			p.Networks = e.networks(p.Net, log)
		}
	}
	return p, nil
}

// resolvConf is where managed networks find the host's DNS servers.
const resolvConf = "/etc/resolv.conf"

// networks is the managed networks of the loaded host.toml
// ([network.NAME]) on net, the host's netns.
func (e *env) networks(net *hostnet.Host, log *slog.Logger) *vmnet.Manager {
	return &vmnet.Manager{
		Net: net, Networks: e.cfg.Network,
		Leases:     filepath.Join(e.stateRoot, state.NetworksDir),
		Runtime:    state.RuntimeDir(),
		ResolvConf: resolvConf,
		Log:        log,
	}
}

// vmAddresses fills status's addresses from the leases of the managed
// networks the VM's runner (booted, else current) joins.
func vmAddresses(d *state.Dir) func(vm state.VM) []string {
	leases := filepath.Join(d.Root, state.NetworksDir)
	return func(vm state.VM) []string {
		dir := vm.Booted
		if dir == "" {
			dir = vm.Current
		}
		if dir == "" {
			return nil
		}
		dir, err := checkTrusted(d, dir)
		if err != nil {
			return nil
		}
		r, err := runner.Load(dir)
		if err != nil {
			return nil
		}
		return vmnet.Addresses(leases, r)
	}
}
