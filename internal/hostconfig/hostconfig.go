// Package hostconfig is the host's own configuration file
// (/etc/microvm/host.toml): who VMs run as and how their devices are
// wired on this host. Runner packages describe VMs; this file describes
// the host, so the same runner works on hosts wired differently.
package hostconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// DefaultPath is where the host configuration lives.
const DefaultPath = "/etc/microvm/host.toml"

// EnvPath overrides DefaultPath; --host-config overrides both.
const EnvPath = "MICROVM_HOST_CONFIG"

// Config is the host configuration. Every field has a default, so a host
// without the file works.
type Config struct {
	// User and Group the hypervisor runs as (microvm.nix: microvm, kvm).
	User  string `toml:"user"`
	Group string `toml:"group"`
	// SupplementaryGroups of the hypervisor, e.g. "disk" for raw disks.
	SupplementaryGroups []string `toml:"supplementaryGroups"`
	// Bridge every tap is attached to; "" attaches none (microvm.nix's
	// behaviour, #247). VM entries override it.
	Bridge string `toml:"bridge"`
	// Virtiofsd is the virtiofsd binary; "" searches the usual places.
	Virtiofsd string `toml:"virtiofsd"`
	// Autostart are the VMs the daemon starts when it starts, in order,
	// AutostartParallel at a time, AutostartDelay apart (microvm.nix
	// started them all at once: boot storms).
	Autostart         []string `toml:"autostart"`
	AutostartParallel int      `toml:"autostartParallel"`
	AutostartDelay    Duration `toml:"autostartDelay"`
	// Restart is the daemon's restart policy: always (microvm.nix's),
	// on-failure or no; RestartDelay the first delay (5 s), doubled up
	// to 5 min; RestartBurst quick exits within RestartWindow make a VM
	// failed.
	Restart       string   `toml:"restart"`
	RestartDelay  Duration `toml:"restartDelay"`
	RestartBurst  int      `toml:"restartBurst"`
	RestartWindow Duration `toml:"restartWindow"`
	// StopTimeout bounds a graceful stop (150 s, microvm.nix's).
	StopTimeout Duration `toml:"stopTimeout"`
	// APIAdminGroup may start, stop and restart VMs through the daemon's
	// API besides root; "" (the default) allows nobody else. Members of
	// the VM group may only read status, and the VM user is refused even
	// as a member of this group: it is what an escaped guest runs as.
	APIAdminGroup string `toml:"apiAdminGroup"`
	// VM holds per-VM settings by name.
	VM map[string]VM `toml:"vm"`
}

// Duration is a time.Duration written as a string ("5s") in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses "5s", "2m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// VM is the per-VM part of the host configuration.
type VM struct {
	Bridge      *string  `toml:"bridge"` // overrides Config.Bridge; "" for none
	StopTimeout Duration `toml:"stopTimeout"`
	// Source makes the VM declarative (microvm.nix's microvm.vms.NAME):
	// the daemon creates it from Source when it does not exist, and never
	// overwrites it (updates are `microvm update`).
	Source string `toml:"source"`
}

// Declared returns the names of the VMs with a Source, sorted.
func (c *Config) Declared() []string {
	var names []string
	for name, vm := range c.VM {
		if vm.Source != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Defaults.
const (
	DefaultUser  = "microvm"
	DefaultGroup = "kvm"
)

// Load reads the configuration at path; a missing file gives the defaults.
func Load(path string) (*Config, error) {
	c := &Config{}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("host config: %w", err)
	}
	if err == nil {
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			var de *toml.DecodeError
			var sm *toml.StrictMissingError
			switch {
			case errors.As(err, &de):
				row, col := de.Position()
				return nil, fmt.Errorf("%s:%d:%d: %s", path, row, col, de.Error())
			case errors.As(err, &sm):
				return nil, fmt.Errorf("%s: %s", path, sm.String())
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	// Relative sources are relative to this file, not to wherever the
	// daemon runs (microvm.nix #538 for relative flake paths).
	for name, vm := range c.VM {
		if vm.Source != "" && !filepath.IsAbs(vm.Source) && !strings.Contains(vm.Source, ":") {
			vm.Source = filepath.Join(filepath.Dir(path), vm.Source)
			c.VM[name] = vm
		}
	}
	if c.AutostartParallel <= 0 {
		c.AutostartParallel = 2
	}
	if c.StopTimeout.Duration <= 0 {
		c.StopTimeout.Duration = 150 * time.Second
	}
	return c, nil
}

// StopTimeoutFor is the stop timeout of the VM name.
func (c *Config) StopTimeoutFor(name string) time.Duration {
	if vm, ok := c.VM[name]; ok && vm.StopTimeout.Duration > 0 {
		return vm.StopTimeout.Duration
	}
	return c.StopTimeout.Duration
}

// BridgeFor is the bridge the taps of the VM name are attached to.
func (c *Config) BridgeFor(name string) string {
	if vm, ok := c.VM[name]; ok && vm.Bridge != nil {
		return *vm.Bridge
	}
	return c.Bridge
}
