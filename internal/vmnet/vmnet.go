// Package vmnet runs the managed networks of host.toml ([network.NAME]),
// libvirt's "default" network for microvm: a bridge of our own with the
// host's address, IPv4 NAT through an nftables table of our own, and a
// DHCP server whose leases are stable per guest MAC.
//
// Up is idempotent and safe after a crash; Down removes exactly what Up
// made: the bridge (marked by its alias, so found even when host.toml no
// longer names the network), the table, and IPv4 forwarding if microvm
// turned it on and no other network of ours still needs it. Forwarding
// is host-global: if another service came to rely on it after we turned
// it on, Down turns it off under it; the README says so.
package vmnet

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/gofrs/flock"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/hostnet"
)

// Manager brings managed networks up and down and serves their DHCP.
type Manager struct {
	Net      *hostnet.Host
	Networks map[string]hostconfig.Network
	// Leases is the directory of the lease files (STATE/.networks).
	Leases string
	// Runtime is the runtime directory; Manager uses Runtime/network.
	Runtime string
	// ResolvConf is where DNS servers come from for networks that do not
	// set dns ("/etc/resolv.conf").
	ResolvConf string
	Log        *slog.Logger
}

// ErrInUse reports that a network's bridge still has ports: VMs run on it.
var ErrInUse = errors.New("network in use")

// Names returns the configured networks, sorted.
func (m *Manager) Names() []string {
	names := make([]string, 0, len(m.Networks))
	for n := range m.Networks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (m *Manager) network(name string) (hostconfig.Network, error) {
	n, ok := m.Networks[name]
	if !ok {
		return n, fmt.Errorf("network %q is not configured in host.toml; expected one of %v", name, m.Names())
	}
	return n, nil
}

// lock takes the lock that serialises Up and Down.
func (m *Manager) lock() (func(), error) {
	dir := filepath.Join(m.Runtime, runDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("network runtime directory: %w", err)
	}
	l := flock.New(filepath.Join(dir, upLock))
	if err := l.Lock(); err != nil {
		return nil, fmt.Errorf("locking networks: %w", err)
	}
	return func() { l.Unlock() }, nil
}

// Up makes network name exist as host.toml says: the bridge with its
// address, up; with NAT, IPv4 forwarding and the masquerade table;
// without, no table. It also creates the leases directory.
func (m *Manager) Up(name string) error {
	n, err := m.network(name)
	if err != nil {
		return err
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.MkdirAll(m.Leases, 0o755); err != nil {
		return fmt.Errorf("network %q: leases directory: %w", name, err)
	}
	if err := m.Net.EnsureBridge(hostnet.Bridge{Name: n.Bridge, Address: n.Prefix(), Marker: Marker(name)}); err != nil {
		return fmt.Errorf("network %q: %w", name, err)
	}
	if !n.NATEnabled() {
		if err := m.Net.DeleteNAT(Table(name)); err != nil {
			return fmt.Errorf("network %q: %w", name, err)
		}
		return nil
	}
	if err := m.ensureForwarding(); err != nil {
		return fmt.Errorf("network %q: %w", name, err)
	}
	if err := m.Net.EnsureNAT(hostnet.NAT{Table: Table(name), Subnet: n.Prefix()}); err != nil {
		return fmt.Errorf("network %q: %w", name, err)
	}
	return nil
}

// ensureForwarding turns IPv4 forwarding on, recording first that it was
// microvm that did, so that a crash in between cannot lose that.
func (m *Manager) ensureForwarding() error {
	on, err := m.Net.IPv4Forwarding()
	if err != nil || on {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.Runtime, runDir, forwardMarker), []byte("microvm turned net.ipv4.ip_forward on\n"), 0o600); err != nil {
		return fmt.Errorf("recording IPv4 forwarding: %w", err)
	}
	return m.Net.SetIPv4Forwarding(true)
}

// Down removes network name: its NAT table and its bridge, found by the
// bridge's alias whatever host.toml says now. A bridge with ports (taps of
// running VMs) is left alone with ErrInUse unless force, which releases
// them (the VMs lose their network). IPv4 forwarding is turned off if
// microvm turned it on and no other network of ours with NAT remains.
func (m *Manager) Down(name string, force bool) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	bridge, err := m.Net.FindBridge(Marker(name))
	if err != nil {
		return fmt.Errorf("network %q: %w", name, err)
	}
	if bridge != "" && !force {
		ports, err := m.Net.BridgePorts(bridge)
		if err != nil {
			return fmt.Errorf("network %q: %w", name, err)
		}
		if len(ports) > 0 {
			return fmt.Errorf("network %q: bridge %q still has %d port(s) %q; stop the VMs using it first, or force it: %w", name, bridge, len(ports), ports, ErrInUse)
		}
	}
	if err := m.Net.DeleteNAT(Table(name)); err != nil {
		return fmt.Errorf("network %q: %w", name, err)
	}
	if bridge != "" {
		if err := m.Net.DeleteBridge(bridge, Marker(name)); err != nil {
			return fmt.Errorf("network %q: %w", name, err)
		}
	}
	return m.restoreForwarding(name)
}

// restoreForwarding turns IPv4 forwarding off if microvm turned it on and
// no other network of host.toml with NAT is still up.
func (m *Manager) restoreForwarding(down string) error {
	marker := filepath.Join(m.Runtime, runDir, forwardMarker)
	if _, err := os.Stat(marker); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, other := range m.Names() {
		if other == down || !m.Networks[other].NATEnabled() {
			continue
		}
		if b, err := m.Net.FindBridge(Marker(other)); err != nil || b != "" {
			return err // still needed (or cannot tell): leave it on
		}
	}
	if err := m.Net.SetIPv4Forwarding(false); err != nil {
		return err
	}
	return os.Remove(marker)
}

// DownUnused is Down for the daemon's exit: a network still in use (by a
// foreground `microvm run`) stays, and that is no error.
func (m *Manager) DownUnused(name string) error {
	err := m.Down(name, false)
	if errors.Is(err, ErrInUse) {
		m.log().Info("leaving network up", "network", name, "reason", err)
		return nil
	}
	return err
}

func (m *Manager) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}
