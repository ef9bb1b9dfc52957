package cli

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/kubelet"
	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// kubeletHost is kubelet.Host on this host: create and remove on the
// code paths of microvm create and remove, start, stop and status
// through the daemon.
type kubeletHost struct {
	e       *env
	d       *state.Dir
	daemon  *api.Client
	records kubelet.Records
	// mu serialises creates and removes: they share the env (its builder
	// and host configuration), which the one-shot verbs never needed to
	// be safe for concurrent use.
	mu sync.Mutex
}

// stopKillAfter is how long a Pod's VM gets after SIGTERM, once its grace
// period is over, before it is killed.
const stopKillAfter = 5 * time.Second

func (h *kubeletHost) Create(ctx context.Context, p kubelet.Plan) error {
	from := p.Runner
	if from == "" {
		from = h.records.SpecPath(p.VM)
	}
	src, err := source.Parse(from, p.VM)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return createOwned(ctx, h.e, p.VM, src, state.OwnerKubelet)
}

func (h *kubeletHost) Start(ctx context.Context, name string) error {
	return h.daemon.Do(ctx, "start", name, api.Bound("start", supervisor.Ladder{}))
}

func (h *kubeletHost) Stop(ctx context.Context, name string, timeout time.Duration) error {
	sts, err := h.daemon.Statuses(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(sts, func(s supervisor.Status) bool { return s.Name == name })
	if i < 0 || !sts[i].Wanted && sts[i].State != supervisor.Running && sts[i].State != supervisor.Starting && sts[i].State != supervisor.Stopping {
		return nil // not running, nor kept running: nothing to stop
	}
	l := supervisor.Ladder{Timeout: max(timeout, time.Second), KillAfter: stopKillAfter}
	_, err = h.daemon.Stop(ctx, name, api.NewStopRequest(l), api.Bound("stop", l))
	return err
}

func (h *kubeletHost) Remove(ctx context.Context, name string) error {
	owner := state.OwnerKubelet
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := removeOwned(ctx, h.e, name, true, &owner)
	if errors.Is(err, state.ErrNotExist) {
		return nil
	}
	return err
}

func (h *kubeletHost) VMs(ctx context.Context) ([]kubelet.VM, error) {
	sts, err := h.daemon.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	vms, err := h.d.List()
	if err != nil {
		return nil, err
	}
	owners := make(map[string]state.Owner, len(vms))
	for _, vm := range vms {
		owners[vm.Name] = vm.Owner
	}
	out := make([]kubelet.VM, 0, len(sts))
	for _, s := range sts {
		o, ok := owners[s.Name]
		if !ok {
			continue // removed between the two listings
		}
		out = append(out, kubelet.VM{Owner: o, Status: s})
	}
	return out, nil
}

func (h *kubeletHost) Logs(ctx context.Context, name string, lines int, follow bool, w io.Writer) error {
	m, done, err := h.e.managerOf(ctx, "logs of", name)
	if err != nil {
		return err
	}
	defer done()
	return m.Logs(ctx, name, manager.LogOptions{Lines: lines, Follow: follow}, w)
}

var _ kubelet.Host = (*kubeletHost)(nil)
