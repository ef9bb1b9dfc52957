package hostprep

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/microvm-host/microvm/internal/runner"
)

// usedNetworks are the managed networks whose bridges the runner's taps
// join: those a tap names, unless host.toml's [vm.NAME] bridge sends the
// VM's taps elsewhere.
func (p *Prep) usedNetworks(vm string, r *runner.Runner) []string {
	if len(r.TapNetworks) == 0 {
		return nil
	}
	if v, ok := p.Config.VM[vm]; ok && v.Bridge != nil {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for _, n := range r.TapNetworks {
		if !seen[n.Network] {
			seen[n.Network] = true
			names = append(names, n.Network)
		}
	}
	sort.Strings(names)
	return names
}

// networksUp brings up the managed networks the runner's taps join, so a
// VM started without the daemon still finds its bridge.
func (p *Prep) networksUp(vm string, r *runner.Runner) error {
	names := p.usedNetworks(vm, r)
	if len(names) == 0 {
		return nil
	}
	if p.Networks == nil {
		return errNeedsRoot
	}
	for _, n := range names {
		if err := p.Networks.Up(n); err != nil {
			return err
		}
	}
	return nil
}

// dhcpServer is the DHCP a foreground run serves for its VM.
type dhcpServer struct {
	cancel context.CancelFunc
	done   chan error
}

// DHCPStart serves the DHCP of the networks the VM uses, when p.ServeDHCP
// (a foreground `microvm run`): in the background, as soon as no other
// process (the daemon, another run) serves them, until DHCPStop.
func (p *Prep) DHCPStart(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	if !p.ServeDHCP || p.Networks == nil {
		return nil
	}
	names := p.usedNetworks(vm, r)
	if len(names) == 0 {
		return nil
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &dhcpServer{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- p.Networks.Serve(sctx, names) }()
	p.mu.Lock()
	if p.dhcp == nil {
		p.dhcp = map[string]*dhcpServer{}
	}
	old := p.dhcp[vmDir]
	p.dhcp[vmDir] = s
	p.mu.Unlock()
	if old != nil {
		return errors.Join(fmt.Errorf("DHCP already served for %q", vm), old.stop())
	}
	return nil
}

// DHCPStop stops the DHCP DHCPStart began; another waiting process takes
// the networks over.
func (p *Prep) DHCPStop(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	p.mu.Lock()
	s := p.dhcp[vmDir]
	delete(p.dhcp, vmDir)
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.stop()
}

func (s *dhcpServer) stop() error {
	s.cancel()
	return <-s.done
}
