// Package hostconfig is the host's own configuration file
// (/etc/microvm/host.toml): who VMs run as and how their devices are
// wired on this host. Runner packages describe VMs; this file describes
// the host, so the same runner works on hosts wired differently.
package hostconfig

import (
	"fmt"
	"sort"
	"time"

	"github.com/microvm-host/microvm/internal/tomlfile"
)

// DefaultPath is where the host configuration lives.
const DefaultPath = "/etc/microvm/host.toml"

// EnvPath overrides DefaultPath; --host-config overrides both.
const EnvPath = "MICROVM_HOST_CONFIG"

// Config is the host configuration. Every field has a default (see
// defaults.go), so a host without the file works.
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
	// failed. Zero means the supervisor's default: Load refuses a zero
	// written in the file.
	Restart       string   `toml:"restart"`
	RestartDelay  Duration `toml:"restartDelay"`
	RestartBurst  int      `toml:"restartBurst"`
	RestartWindow Duration `toml:"restartWindow"`
	// StopTimeout bounds a graceful stop (150 s, microvm.nix's): the
	// guest's whole time to power off, from the first request. Within
	// it the request (Ctrl-Alt-Del) is re-sent every StopResend, with
	// the ACPI power button where the hypervisor has one: a Ctrl-Alt-Del
	// sent while the guest boots is lost, and a guest may ignore it.
	// After it comes SIGTERM, and StopKillAfter later SIGKILL.
	StopTimeout   Duration `toml:"stopTimeout"`
	StopResend    Duration `toml:"stopResend"`
	StopKillAfter Duration `toml:"stopKillAfter"`
	// APIAdminGroup may start, stop and restart VMs through the daemon's
	// API besides root; "" (the default) allows nobody else. Members of
	// the VM group may only read status, and the VM user is refused even
	// as a member of this group: it is what an escaped guest runs as.
	APIAdminGroup string `toml:"apiAdminGroup"`
	// MetricsListen is an IP:PORT where the daemon also serves its
	// Prometheus metrics (GET /metrics) over TCP, since Prometheus
	// cannot scrape a unix socket; "" (the default) serves them on the
	// API socket only. The endpoint is unauthenticated: whoever reaches
	// the address reads the VMs' names, states, exit reasons, resource
	// use, interface and disk names, and the daemon's own runtime
	// metrics (nothing of the guests' contents, no paths, no console).
	// So the address must be an explicit IP: 127.0.0.1 keeps it on this
	// host, and every interface has to be written out as 0.0.0.0.
	MetricsListen string `toml:"metricsListen"`
	// WatchConfig makes the daemon apply this file (microvm apply)
	// whenever it changes, besides at SIGHUP.
	WatchConfig bool `toml:"watchConfig"`
	// VM holds per-VM settings by name.
	VM map[string]VM `toml:"vm"`
	// Network holds the managed networks by name (see Network).
	Network map[string]Network `toml:"network"`

	// file and keys locate the settings in the file for Check's errors;
	// keys is nil when there was no file.
	file string
	keys *tomlfile.Index
}

// VM is the per-VM part of the host configuration.
type VM struct {
	// Bridge overrides Config.Bridge and the bridge of the networks the
	// VM's taps name; "" attaches none.
	Bridge *string `toml:"bridge"`
	// The stop ladder's times, overriding the host's.
	StopTimeout   Duration `toml:"stopTimeout"`
	StopResend    Duration `toml:"stopResend"`
	StopKillAfter Duration `toml:"stopKillAfter"`
	// Source makes the VM declarative (microvm.nix's microvm.vms.NAME):
	// `microvm apply` (and the daemon, at its start, at SIGHUP and with
	// WatchConfig) creates it from Source, updates it when Source builds
	// something else than its current runner, and stops and removes it
	// once it is no longer declared. Only VMs apply created are changed:
	// one made by hand under a declared name is left alone.
	Source string `toml:"source"`
	// Autostart adds the VM to the host's Autostart (after those listed
	// there), and makes apply start it once created.
	Autostart bool `toml:"autostart"`
	// RestartIfChanged makes apply restart the VM when it runs another
	// runner than its current one (after an update, say); without it
	// the new runner waits for the next start (microvm.nix's
	// restartIfChanged).
	RestartIfChanged bool `toml:"restartIfChanged"`
	// PurgeOnRemove makes apply delete the VM's data (volumes, share
	// sources in its directory) when it removes the VM; without it the
	// data is kept under STATE/.removed. A VM is removed once its table
	// has no source: deleting data takes a table that stays and says so
	// ([vm.NAME] purgeOnRemove = true, without source), while a VM whose
	// table is deleted keeps its data.
	PurgeOnRemove bool `toml:"purgeOnRemove"`
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

// AutostartNames are the VMs the daemon starts when it starts, in order:
// the host's Autostart list, then the VMs whose entry sets autostart,
// sorted.
func (c *Config) AutostartNames() []string {
	names := append([]string(nil), c.Autostart...)
	listed := map[string]bool{}
	for _, n := range names {
		listed[n] = true
	}
	var own []string
	for name, vm := range c.VM {
		if vm.Autostart && !listed[name] {
			own = append(own, name)
		}
	}
	sort.Strings(own)
	return append(names, own...)
}

// StopTimes are the times of a stop's steps (see Config.StopTimeout).
type StopTimes struct {
	Timeout, Resend, KillAfter time.Duration
}

// StopFor is how the VM name is stopped: its own times where host.toml
// sets them, else the host's.
func (c *Config) StopFor(name string) StopTimes {
	vm := c.VM[name]
	pick := func(own, host Duration) time.Duration {
		if own.Duration > 0 {
			return own.Duration
		}
		return host.Duration
	}
	return StopTimes{
		Timeout:   pick(vm.StopTimeout, c.StopTimeout),
		Resend:    pick(vm.StopResend, c.StopResend),
		KillAfter: pick(vm.StopKillAfter, c.StopKillAfter),
	}
}

// BridgeFor is the bridge the taps of the VM name are attached to when
// they name no network.
func (c *Config) BridgeFor(name string) string {
	if vm, ok := c.VM[name]; ok && vm.Bridge != nil {
		return *vm.Bridge
	}
	return c.Bridge
}

// TapBridge is the bridge a tap of the VM name is attached to, by
// precedence: the VM's own bridge in host.toml ([vm.NAME] bridge, the
// host's wiring overrides what the runner asks for), the bridge of the
// network the tap names, then the host's bridge. A tap naming a network
// this host does not configure is an error, unless [vm.NAME] bridge says
// where it goes instead.
func (c *Config) TapBridge(vm, network string) (string, error) {
	if v, ok := c.VM[vm]; ok && v.Bridge != nil {
		return *v.Bridge, nil
	}
	if network == "" {
		return c.Bridge, nil
	}
	n, ok := c.Network[network]
	if !ok {
		return "", fmt.Errorf("network %q is not configured on this host; add [network.%s] to %s (see the README, \"Default network\"), or set [vm.%s] bridge", network, network, c.file, vm)
	}
	return n.Bridge, nil
}
