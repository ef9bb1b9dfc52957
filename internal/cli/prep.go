package cli

import (
	"log/slog"
	"os"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/hostnet"
	"github.com/microvm-host/microvm/internal/hostprep"
	"github.com/microvm-host/microvm/internal/vfio"
	"github.com/microvm-host/microvm/internal/virtiofsd"
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
	}
	return p, nil
}
