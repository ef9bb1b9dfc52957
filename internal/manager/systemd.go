package manager

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// Unit is the systemd unit of the VM name.
func Unit(name string) string { return "microvm@" + name + ".service" }

// helperUnits are the units microvm@NAME requires, in the order they
// start (see internal/systemd): set-booted first, so last to stop.
func helperUnits(name string) []string {
	var units []string
	for _, h := range []string{"set-booted", "tap-interfaces", "macvtap-interfaces", "pci-devices", "virtiofsd"} {
		units = append(units, "microvm-"+h+"@"+name+".service")
	}
	return units
}

// bus is what the systemd manager needs of go-systemd's D-Bus connection
// (*dbus.Conn); tests fake it.
type bus interface {
	StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	ResetFailedUnitContext(ctx context.Context, name string) error
	GetUnitPropertiesContext(ctx context.Context, unit string) (map[string]any, error)
	GetUnitTypePropertiesContext(ctx context.Context, unit, unitType string) (map[string]any, error)
	ListUnitsByPatternsContext(ctx context.Context, states, patterns []string) ([]sddbus.UnitStatus, error)
	Close()
}

// systemdManager is systemd, for the VMs whose microvm@ units run this
// state directory.
type systemdManager struct {
	bus     bus
	state   *state.Dir
	runtime string // where microvm@'s ExecStopPost= records exits
	// journal reads the journal (journalctl's arguments); tests fake it.
	journal func(ctx context.Context, args []string, w io.Writer) error
	// settle is how often a unit is polled: for the teardown after a
	// stop, for the hypervisor after a start.
	settle time.Duration
	// runFor is how long a started hypervisor must run for its start
	// to count (see settled).
	runFor time.Duration
}

func (m *systemdManager) Kind() Kind { return Systemd }

// ours reports whether microvm@NAME is installed and runs the VM of this
// state directory: its WorkingDirectory is the VM's directory. Units
// rendered for another state directory manage other VMs.
func (m *systemdManager) ours(u unitProps, name string) bool {
	want, err := filepath.Abs(m.state.VMPath(name))
	return err == nil && u.LoadState == "loaded" && filepath.Clean(u.WorkingDirectory) == want
}

func (m *systemdManager) Start(ctx context.Context, name string) error {
	unit := Unit(name)
	// A manual start forgets the crash-loop count, as the daemon's
	// does: reset-failed also resets the start limit.
	m.bus.ResetFailedUnitContext(ctx, unit)
	if err := m.job(ctx, "start", unit, m.bus.StartUnitContext); err != nil {
		return m.explain(ctx, name, err)
	}
	return m.settled(ctx, name)
}

func (m *systemdManager) Restart(ctx context.Context, name string) error {
	unit := Unit(name)
	m.bus.ResetFailedUnitContext(ctx, unit)
	if err := m.job(ctx, "restart", unit, m.bus.RestartUnitContext); err != nil {
		return m.explain(ctx, name, err)
	}
	return m.settled(ctx, name)
}

// settled watches a freshly started microvm@ for m.runFor: it is
// Type=simple, so systemd calls it started as soon as the hypervisor was
// forked, and one that cannot run (an image it may not open, a bad
// argument) exits right after. Its last lines then say why. An exit is
// "at once" when systemd's timestamps put it within runFor of the start,
// or, once systemd has restarted it, when it was seen within runFor.
func (m *systemdManager) settled(ctx context.Context, name string) error {
	unit := Unit(name)
	first, err := m.props(ctx, unit)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(m.runFor)
	for {
		asked := time.Now()
		u, err := m.props(ctx, unit)
		if err != nil {
			return err
		}
		switch {
		case u.InvocationID != first.InvocationID:
			// Restarted already: the run we started is over.
			if asked.Before(deadline) {
				return m.exitedAtOnce(ctx, name, first, "")
			}
			return nil
		case u.ActiveState != "active":
			e, ok := u.exit()
			if ok && !u.ExecMainStart.IsZero() && !u.ExecMainExit.IsZero() {
				if u.ExecMainExit.Sub(u.ExecMainStart) < m.runFor {
					return m.exitedAtOnce(ctx, name, first, e.String())
				}
				return nil
			}
			if asked.Before(deadline) {
				return m.exitedAtOnce(ctx, name, first, e.String())
			}
			return nil
		case asked.After(deadline):
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(m.settle):
		}
	}
}

// exitedAtOnce is the error for a hypervisor that exited right after its
// start, with what its run (u's invocation) logged.
func (m *systemdManager) exitedAtOnce(ctx context.Context, name string, u unitProps, how string) error {
	msg := Unit(name) + " started, but its hypervisor exited at once"
	if how != "" {
		msg += " (" + how + ")"
	}
	if lines := m.lastLines(ctx, u); len(lines) > 0 {
		msg += ":\n    " + strings.Join(lines, "\n    ")
	}
	return fmt.Errorf("%s\n(systemd restarts it by its Restart=; more with `microvm logs %s`)", msg, name)
}

func (m *systemdManager) Stop(ctx context.Context, name string, _ supervisor.Ladder) (string, error) {
	unit := Unit(name)
	u, err := m.props(ctx, unit)
	if err != nil {
		return "", err
	}
	wasRunning := u.ActiveState != "inactive" && u.ActiveState != "failed"
	if err := m.job(ctx, "stop", unit, m.bus.StopUnitContext); err != nil {
		return "", m.explain(ctx, name, err)
	}
	// systemd ends the stop job when microvm@ is down; the helpers'
	// teardown (PartOf) are jobs of their own, and set-booted is the
	// last of them. The VM is stopped once booted is gone.
	if err := m.waitTornDown(ctx, name); err != nil {
		return "", err
	}
	if !wasRunning {
		return "", ErrNotRunning
	}
	return m.lastExit(ctx, name)
}

// lastExit says how the VM's hypervisor last ended: from the unit while
// systemd knows, else from the record ExecStopPost= wrote.
func (m *systemdManager) lastExit(ctx context.Context, name string) (string, error) {
	u, err := m.props(ctx, Unit(name))
	if err != nil {
		return "", err
	}
	if e, ok := u.exit(); ok {
		return e.String(), nil
	}
	if rec, ok := ReadUnitExit(m.runtime, name); ok {
		return rec.String(), nil
	}
	return "", nil
}

// status is the VM's status under systemd.
func (m *systemdManager) status(ctx context.Context, vm state.VM) (supervisor.Status, error) {
	u, err := m.props(ctx, Unit(vm.Name))
	if err != nil {
		return supervisor.Status{}, err
	}
	var rec *UnitExit
	if e, ok := ReadUnitExit(m.runtime, vm.Name); ok {
		rec = &e
	}
	return u.status(vm, rec), nil
}

// waitTornDown waits until microvm-set-booted@NAME, the last teardown
// step, is no longer active.
func (m *systemdManager) waitTornDown(ctx context.Context, name string) error {
	setBooted := helperUnits(name)[0]
	for {
		u, err := m.props(ctx, setBooted)
		if err != nil {
			return err
		}
		if u.ActiveState == "inactive" || u.ActiveState == "failed" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the teardown of %q (%s is %s): %w", name, setBooted, u.ActiveState, ctx.Err())
		case <-time.After(m.settle):
		}
	}
}

// active returns the VMs whose microvm@ unit is active, with one call.
func (m *systemdManager) active(ctx context.Context) (map[string]bool, error) {
	units, err := m.bus.ListUnitsByPatternsContext(ctx, []string{"active"}, []string{"microvm@*.service"})
	if err != nil {
		return nil, fmt.Errorf("listing microvm@ units: %w", err)
	}
	names := map[string]bool{}
	for _, u := range units {
		name := strings.TrimSuffix(strings.TrimPrefix(u.Name, "microvm@"), ".service")
		names[name] = true
	}
	return names, nil
}
