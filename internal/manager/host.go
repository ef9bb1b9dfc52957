package manager

import (
	"context"
	"fmt"
	"os"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// Host knows who can manage the VMs of one state directory: a daemon
// that answers on its socket, systemd, both or neither. For decides per
// VM.
type Host struct {
	State *state.Dir
	// runtime and addresses feed the facts of VMs nobody manages: their
	// last exit record and their addresses on managed networks.
	runtime   string
	addresses func(state.VM) []string
	// daemon is nil when no daemon answers; systemd is nil when systemd
	// is not the init system.
	daemon  Manager
	systemd *systemdManager
	none    Manager
}

// Options say where to look for the supervisors.
type Options struct {
	// Runtime is the daemon's runtime directory (its API socket).
	Runtime string
	// Ladder is how the daemon stops a VM by host.toml (zero times where
	// unknown): the client's waits follow it.
	Ladder func(name string) supervisor.Ladder
	// Addresses, when set, are a VM's addresses on managed networks, for
	// status whoever manages it.
	Addresses func(state.VM) []string
	// SystemdRunning is where sd_booted(3) looks:
	// /run/systemd/system exists when systemd is the init system.
	SystemdRunning string
}

// DefaultSystemdRunning is sd_booted(3)'s test.
const DefaultSystemdRunning = "/run/systemd/system"

// Open finds the supervisors. Systemd is reached over D-Bus (the system
// bus, or as root systemd's private socket); a systemd that runs but
// does not answer is an error, not "unmanaged": VMs it runs would
// otherwise be reported as stopped.
func Open(ctx context.Context, d *state.Dir, o Options) (*Host, error) {
	h := &Host{State: d, runtime: o.Runtime, addresses: o.Addresses, none: &unmanaged{state: d}}
	if c := api.NewClient(o.Runtime); c.Available() {
		h.daemon = &daemonManager{client: c, state: d, ladder: o.Ladder}
	}
	if o.SystemdRunning == "" {
		o.SystemdRunning = DefaultSystemdRunning
	}
	if _, err := os.Stat(o.SystemdRunning); err == nil {
		conn, err := sddbus.NewWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("connecting to systemd over D-Bus: %w", err)
		}
		h.systemd = newSystemd(conn, d, o.Runtime)
	}
	return h, nil
}

func newSystemd(b bus, d *state.Dir, runtime string) *systemdManager {
	return &systemdManager{bus: b, state: d, runtime: runtime, journal: journalctl, settle: 50 * time.Millisecond, runFor: time.Second}
}

// Close releases the D-Bus connection.
func (h *Host) Close() {
	if h.systemd != nil {
		h.systemd.bus.Close()
	}
}

// For decides who manages the VM name:
//   - systemd, when its microvm@NAME unit runs this state directory's VM
//     and is not inactive (it runs, starts, stops, or failed), or when
//     no daemon answers;
//   - else the daemon, when one answers;
//   - else systemd, when its units are installed for this state dir;
//   - else nobody (None).
//
// A VM without a directory is state.ErrNotExist; the caller names it.
func (h *Host) For(ctx context.Context, name string) (Manager, error) {
	if !h.State.Exists(name) {
		return nil, state.ErrNotExist
	}
	if h.systemd != nil {
		u, err := h.systemd.props(ctx, Unit(name))
		if err != nil {
			return nil, err
		}
		if h.systemd.ours(u, name) && (u.ActiveState != "inactive" || u.JobPending || h.daemon == nil) {
			return h.systemd, nil
		}
	}
	if h.daemon != nil {
		return h.daemon, nil
	}
	return h.none, nil
}

// Statuses reports every VM of the state directory, sorted by name, each
// from whoever manages it; VMs nobody manages from the state directory
// alone.
func (h *Host) Statuses(ctx context.Context) ([]Status, error) {
	vms, err := h.State.List()
	if err != nil {
		return nil, err
	}
	var fromDaemon map[string]supervisor.Status
	if dm, ok := h.daemon.(*daemonManager); ok {
		if fromDaemon, err = dm.statuses(ctx); err != nil {
			return nil, err
		}
	}
	facts, err := (&supervisor.Daemon{State: h.State, Runtime: h.runtime, Addresses: h.addresses}).Statuses()
	if err != nil {
		return nil, err
	}
	byName := make(map[string]supervisor.Status, len(facts))
	for _, f := range facts {
		byName[f.Name] = f
	}
	out := make([]Status, 0, len(vms))
	for _, vm := range vms {
		m, err := h.For(ctx, vm.Name)
		if err != nil {
			return nil, err
		}
		st := Status{Status: byName[vm.Name], ManagedBy: m.Kind()}
		switch m.Kind() {
		case Systemd:
			if st.Status, err = h.systemd.status(ctx, vm); err != nil {
				return nil, err
			}
			st.Addresses = byName[vm.Name].Addresses
		case Daemon:
			if s, ok := fromDaemon[vm.Name]; ok {
				st.Status = s
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// Running returns the VMs that systemd runs for this state directory,
// for list: a VM the daemon or `microvm run` runs has a live process
// record, which list reads itself.
func (h *Host) Running(ctx context.Context) (map[string]bool, error) {
	if h.systemd == nil {
		return nil, nil
	}
	active, err := h.systemd.active(ctx)
	if err != nil {
		return nil, err
	}
	for name := range active {
		u, err := h.systemd.props(ctx, Unit(name))
		if err != nil {
			return nil, err
		}
		if !h.systemd.ours(u, name) {
			delete(active, name)
		}
	}
	return active, nil
}
