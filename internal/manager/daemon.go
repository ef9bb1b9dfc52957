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
	// stopTimeout is the daemon's stop timeout of a VM (host.toml), or 0
	// when unknown; the client waits that long at least.
	stopTimeout func(name string) time.Duration
}

func (m *daemonManager) Kind() Kind { return Daemon }

// bound is how long to wait for verb: what the daemon may take with the
// VM's stop timeout, least at least.
func (m *daemonManager) bound(verb, name string, least time.Duration) time.Duration {
	t := least
	if m.stopTimeout != nil {
		t = max(t, m.stopTimeout(name))
	}
	return api.Bound(verb, t)
}

func (m *daemonManager) Start(ctx context.Context, name string) error {
	return m.client.Do(ctx, "start", name, m.bound("start", name, supervisor.DefaultStopTimeout))
}

func (m *daemonManager) Restart(ctx context.Context, name string) error {
	return m.client.Do(ctx, "restart", name, m.bound("restart", name, supervisor.DefaultStopTimeout))
}

func (m *daemonManager) Stop(ctx context.Context, name string, timeout time.Duration) (string, error) {
	return "", m.client.Do(ctx, "stop", name, m.bound("stop", name, timeout))
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
