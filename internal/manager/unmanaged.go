package manager

import (
	"context"
	"fmt"
	"io"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// unmanaged is the None manager: VMs that neither a daemon nor systemd
// supervises. It can show their console logs but not start them.
type unmanaged struct{ state *state.Dir }

func (u *unmanaged) Kind() Kind { return None }

func (u *unmanaged) Start(_ context.Context, name string) error { return noSupervisor("start", name) }

func (u *unmanaged) Restart(_ context.Context, name string) error {
	return noSupervisor("restart", name)
}

func (u *unmanaged) Stop(context.Context, string, supervisor.Ladder) (string, error) {
	return "", ErrUnmanaged
}

func (u *unmanaged) Logs(ctx context.Context, name string, o LogOptions, w io.Writer) error {
	return consoleLog(ctx, u.state, name, o, w)
}

// noSupervisor wraps api.ErrNoDaemon: callers and scripts know it.
func noSupervisor(verb, name string) error {
	return fmt.Errorf("%s %q: %w, and systemd does not manage it (start one with `microvm daemon`, install the units with `microvm systemd install`, or use `microvm run`)", verb, name, api.ErrNoDaemon)
}
