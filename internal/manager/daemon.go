package manager

import (
	"context"
	"io"
	"time"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// daemonManager is `microvm daemon`, through its API.
type daemonManager struct {
	client *api.Client
	state  *state.Dir
	// ladder is how the daemon stops a VM by host.toml (zero times where
	// unknown): the client's waits follow it.
	ladder func(name string) supervisor.Ladder
}

func (m *daemonManager) Kind() Kind { return Daemon }

// bound is how long to wait for verb: what the daemon may take, with the
// times given, else the VM's from host.toml, else the defaults.
func (m *daemonManager) bound(verb, name string, given supervisor.Ladder) time.Duration {
	l := given
	if m.ladder != nil {
		l = l.Or(m.ladder(name))
	}
	return api.Bound(verb, l.Or(supervisor.DefaultLadder))
}

func (m *daemonManager) Start(ctx context.Context, name string) error {
	return m.client.Do(ctx, "start", name, m.bound("start", name, supervisor.Ladder{}))
}

func (m *daemonManager) Restart(ctx context.Context, name string) error {
	return m.client.Do(ctx, "restart", name, m.bound("restart", name, supervisor.Ladder{}))
}

// Stop sends the times given with the request, so that the daemon stops
// by them, and says the outcome it answers.
func (m *daemonManager) Stop(ctx context.Context, name string, given supervisor.Ladder) (string, error) {
	out, err := m.client.Stop(ctx, name, api.NewStopRequest(given), m.bound("stop", name, given))
	switch {
	case err != nil:
		return "", err
	case out.How == supervisor.NotRunning:
		return "", ErrNotRunning
	}
	return out.String(), nil
}

func (m *daemonManager) Logs(ctx context.Context, name string, o LogOptions, w io.Writer) error {
	return consoleLog(ctx, m.state, name, o, w)
}

func (m *daemonManager) statuses(ctx context.Context) (map[string]supervisor.Status, error) {
	sts, err := m.client.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]supervisor.Status, len(sts))
	for _, s := range sts {
		byName[s.Name] = s
	}
	return byName, nil
}
