package hostprep

import (
	"context"
	"errors"
	"fmt"

	"github.com/microvm-host/microvm/internal/hostnet"
	"github.com/microvm-host/microvm/internal/runner"
)

// errNeedsRoot refuses host changes that only root can make.
var errNeedsRoot = errors.New("needs root (network and device setup); run as root, or remove them from the VM")

// TapUp creates the runner's taps, owned by the VM user, with the flags
// the runner's hypervisor opens them with.
func (p *Prep) TapUp(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if r.Helpers.TapUp {
		return p.runHelper(ctx, r, runner.TapUpScript, vmDir)
	}
	if len(r.Taps) == 0 {
		return nil
	}
	if p.Net == nil {
		return errNeedsRoot
	}
	taps := make([]hostnet.Tap, 0, len(r.Taps))
	for _, name := range r.Taps {
		bridge, err := p.Config.TapBridge(vm, r.NetworkOf(name))
		if err != nil {
			return fmt.Errorf("tap %q: %w", name, err)
		}
		taps = append(taps, hostnet.Tap{
			Name: name, Owner: p.ID.UID, Group: p.ID.GID,
			VnetHdr: r.TapFlags.VnetHdr, MultiQueue: r.TapFlags.MultiQueue,
			Bridge: bridge,
		})
	}
	if err := p.networksUp(vm, r); err != nil {
		return err
	}
	return p.Net.SetupTaps(vm, taps)
}

// TapDown deletes the taps of the runner that ran, whatever their flags.
func (p *Prep) TapDown(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if r.Helpers.TapDown {
		return p.runHelper(ctx, r, runner.TapDownScript, vmDir)
	}
	if len(r.Taps) == 0 {
		return nil
	}
	if p.Net == nil {
		return errNeedsRoot
	}
	return p.Net.TeardownTaps(vm, r.Taps)
}

// MacvtapUp creates the runner's macvtaps and hands /dev/tapN to the VM user.
func (p *Prep) MacvtapUp(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if r.Helpers.MacvtapUp {
		return p.runHelper(ctx, r, runner.MacvtapUpScript, vmDir)
	}
	if len(r.Macvtaps) == 0 {
		return nil
	}
	if p.Net == nil {
		return errNeedsRoot
	}
	ms := make([]hostnet.Macvtap, 0, len(r.Macvtaps))
	for _, m := range r.Macvtaps {
		ms = append(ms, hostnet.Macvtap{Name: m.ID, Parent: m.Link, MAC: m.MAC, Mode: m.Mode, Owner: p.ID.UID, Group: p.ID.GID})
	}
	return p.Net.SetupMacvtaps(vm, ms)
}

// MacvtapDown deletes the macvtaps of the runner that ran.
func (p *Prep) MacvtapDown(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if r.Helpers.MacvtapDown {
		return p.runHelper(ctx, r, runner.MacvtapDownScript, vmDir)
	}
	if len(r.Macvtaps) == 0 {
		return nil
	}
	if p.Net == nil {
		return errNeedsRoot
	}
	names := make([]string, 0, len(r.Macvtaps))
	for _, m := range r.Macvtaps {
		names = append(names, m.ID)
	}
	return p.Net.TeardownMacvtaps(vm, names)
}
