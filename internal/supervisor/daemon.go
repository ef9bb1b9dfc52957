package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/state"
)

// VM states, derived from facts (processes, links), not from memory alone.
const (
	Stopped  = "stopped"
	Starting = "starting" // the monitor runs, the hypervisor not (yet)
	Running  = "running"
	Stopping = "stopping"
	Failed   = "failed" // crash loop, or start failed: not restarted
	Broken   = "broken" // facts disagree: booted exists, nothing runs
)

// Status is one VM as the daemon sees it (the API's wire type).
type Status struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Wanted   bool   `json:"wanted"` // the daemon keeps it running
	PID      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	LastExit string `json:"lastExit,omitempty"` // Exit in words
	// Exit is how the last run ended.
	Exit *Outcome `json:"exit,omitempty"`
	// Tail is the console's last lines when the last run failed (see
	// ExitRecord.Tail): the guest's bytes, to print through printable.
	Tail      []string  `json:"tail,omitempty"`
	Since     time.Time `json:"since"`
	Console   string    `json:"console,omitempty"`
	NextStart time.Time `json:"nextStart,omitzero"`
	// Addresses are the guest's addresses on managed networks, from
	// their DHCP leases (stable per MAC).
	Addresses []string `json:"addresses,omitempty"`
}

// Daemon supervises the VMs of a state directory.
type Daemon struct {
	State   *state.Dir
	Runtime string // root-only directory for monitor and exit records
	Microvm string // this binary: monitors are `Microvm run --monitor NAME`
	Env     []string
	Config  *hostconfig.Config
	// ConfigPath is Config's file, which the daemon applies (Reapply);
	// while it does not exist there is nothing to apply.
	ConfigPath string
	Policy     Policy
	Log        *slog.Logger
	// Cleanup tears down after a VM whose monitor died with the previous
	// daemon (host preparation from booted, then booted removed).
	Cleanup func(name string) error
	// ShutdownAs is who runs the runners' bin/microvm-shutdown (see
	// Stop); nil runs it as the daemon.
	ShutdownAs *syscall.Credential
	// Addresses, when set, fills Status.Addresses of a VM.
	Addresses func(vm state.VM) []string
	// StartTimed, when set, is told how long a start took: from spawning
	// the monitor until the hypervisor runs (ready false) and, for
	// runners that forward the guest's sd_notify, until the guest said
	// it is ready (ready true). It must not block.
	StartTimed func(name string, ready bool, took time.Duration)

	ctx context.Context
	mu  sync.Mutex
	vms map[string]*vmSup
	bus Bus // the VMs' events (Subscribe)
	// applyReq holds one pending request to apply host.toml (Reapply).
	applyReq chan struct{}
}

// ErrUnknownVM is returned for a name without a VM directory.
var ErrUnknownVM = errors.New("no such VM")

// Start adopts VMs whose monitors survived a previous daemon, cleans up
// after those that died meanwhile, watches the state directory for
// created, updated and removed VMs, applies host.toml's declared VMs
// (see Reapply), and then starts the autostart VMs, bounded in
// parallelism. It returns once adoption is done; applying and autostart
// go on in the background, since apply's steps use the daemon's API.
func (d *Daemon) Start(ctx context.Context) error {
	d.ctx = ctx
	d.vms = map[string]*vmSup{}
	if err := os.MkdirAll(d.Runtime, 0o700); err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	vms, err := d.State.List()
	if err != nil {
		return err
	}
	for _, vm := range vms {
		if vm.Broken() && vm.Current == "" {
			continue
		}
		v := d.sup(vm.Name)
		if mon, _ := ReadMonitor(d.Runtime, vm.Name); mon != nil {
			v.adopt(*mon)
		} else if vm.Booted != "" && !vm.Running {
			v.cleanupDead()
		}
	}
	d.watchState()
	d.applyReq = make(chan struct{}, 1)
	declared := make(chan struct{})
	go d.applyLoop(declared)
	go func() {
		// Declared VMs exist before autostart starts them.
		select {
		case <-declared:
			d.autostart()
		case <-ctx.Done():
		}
	}()
	return nil
}

func (d *Daemon) autostart() {
	sem := make(chan struct{}, d.Config.AutostartParallel)
	for i, name := range d.Config.AutostartNames() {
		if i > 0 && d.Config.AutostartDelay.Duration > 0 {
			select {
			case <-time.After(d.Config.AutostartDelay.Duration):
			case <-d.ctx.Done():
				return
			}
		}
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if err := d.StartVM(name); err != nil {
				d.Log.Warn("autostart", "vm", name, "err", err)
			}
		}()
	}
}

// sup returns the supervisor of name, creating it.
func (d *Daemon) sup(name string) *vmSup {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.vms[name]
	if v == nil {
		v = newVMSup(d, name)
		d.vms[name] = v
	}
	return v
}

func (d *Daemon) known(name string) (*vmSup, error) {
	if err := state.CheckName(name); err != nil {
		return nil, err
	}
	if !d.State.Exists(name) {
		return nil, fmt.Errorf("%q: %w", name, ErrUnknownVM)
	}
	return d.sup(name), nil
}

// StartVM makes the daemon keep name running; it returns once the
// hypervisor was started (or starting failed).
func (d *Daemon) StartVM(name string) error {
	v, err := d.known(name)
	if err != nil {
		return err
	}
	return v.start()
}

// StopVM stops name gracefully by the ladder l, whose zero steps are
// host.toml's for the VM, and keeps it stopped. It says how the run
// ended.
func (d *Daemon) StopVM(ctx context.Context, name string, l Ladder) (Outcome, error) {
	v, err := d.known(name)
	if err != nil {
		return Outcome{}, err
	}
	l = l.Or(d.LadderFor(name))
	if err := l.Check(); err != nil {
		return Outcome{}, err
	}
	return v.stop(ctx, l)
}

// RestartVM stops name if it runs, then starts it.
func (d *Daemon) RestartVM(ctx context.Context, name string) error {
	if _, err := d.StopVM(ctx, name, Ladder{}); err != nil {
		return err
	}
	return d.StartVM(name)
}

// LadderFor is how the VM name is stopped: host.toml's times for it, the
// defaults for what it leaves out.
func (d *Daemon) LadderFor(name string) Ladder {
	if d.Config == nil {
		return DefaultLadder
	}
	return LadderOf(d.Config.StopFor(name)).Or(DefaultLadder)
}

// LongestStop is the longest any VM's stop may take before SIGKILL: what
// a host shutdown must allow.
func (d *Daemon) LongestStop() time.Duration {
	longest := d.LadderFor("").Longest()
	if d.Config != nil {
		for name := range d.Config.VM {
			longest = max(longest, d.LadderFor(name).Longest())
		}
	}
	return longest
}

// Statuses reports every VM of the state directory, sorted by name.
func (d *Daemon) Statuses() ([]Status, error) {
	vms, err := d.State.List()
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(vms))
	for _, vm := range vms {
		d.mu.Lock()
		v := d.vms[vm.Name]
		d.mu.Unlock()
		if v == nil {
			out = append(out, d.recordedStatus(vm))
			continue
		}
		out = append(out, v.status(vm))
	}
	for i := range out {
		if d.Addresses != nil {
			out[i].Addresses = d.Addresses(vms[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// factStatus is the status of a VM the daemon does not supervise.
func factStatus(vm state.VM) Status {
	st := Status{Name: vm.Name, State: Stopped}
	switch {
	case vm.Running:
		st.State, st.PID = Running, vm.Process.PID
	case vm.Booted != "" || vm.Broken():
		st.State = Broken
	}
	return st
}

// recordedStatus is the status of a VM the daemon does not supervise,
// with its last exit from the exit record (status without a daemon, or a
// VM run by hand).
func (d *Daemon) recordedStatus(vm state.VM) Status {
	st := factStatus(vm)
	if d.Runtime == "" {
		return st
	}
	if rec, ok := ReadExit(d.Runtime, vm.Name); ok {
		out := ExitOutcome(rec, true)
		st.LastExit, st.Exit, st.Tail = out.String(), &out, rec.Tail
		if !vm.Running {
			st.Since = rec.Time
		}
	}
	return st
}

// Shutdown stops every VM in parallel within deadline (host shutdown).
func (d *Daemon) Shutdown(deadline time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	d.mu.Lock()
	sups := make([]*vmSup, 0, len(d.vms))
	for _, v := range d.vms {
		sups = append(sups, v)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(sups))
	for i, v := range sups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = v.stop(ctx, d.LadderFor(v.name))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
