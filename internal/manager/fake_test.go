package manager

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// fakeUnit is one unit of fakeBus: its Unit and Service properties.
type fakeUnit struct {
	unit, service map[string]any
}

// fakeBus records the jobs asked of it and answers property reads from
// units; a unit it does not know is "not-found", as systemd's are.
type fakeBus struct {
	mu     sync.Mutex
	units  map[string]*fakeUnit
	jobs   []string          // "start microvm@a.service", …
	result map[string]string // job result by "verb unit"; default "done"
	// onJob changes units when a job is enqueued, as systemd would.
	onJob func(verb, unit string)
	// reads counts property reads by unit, for units that change over
	// time (see stateAfter).
	reads map[string]int
	// stateAfter makes unit's ActiveState the second value after the
	// given number of reads, the first before.
	stateAfter map[string]struct {
		n            int
		before, then string
	}
}

func newFakeBus() *fakeBus {
	return &fakeBus{units: map[string]*fakeUnit{}, result: map[string]string{}, reads: map[string]int{}}
}

// set makes unit loaded with the given properties, whichever interface
// they belong to (the fake does not care).
func (b *fakeBus) set(unit string, props map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.units[unit]
	if u == nil {
		u = &fakeUnit{unit: map[string]any{"LoadState": "loaded", "ActiveState": "inactive", "SubState": "dead"}, service: map[string]any{"Result": "success"}}
		b.units[unit] = u
	}
	for k, v := range props {
		switch k {
		case "LoadState", "ActiveState", "SubState", "ActiveEnterTimestamp", "StateChangeTimestamp", "InvocationID", "Job", "StartLimitBurst", "StartLimitIntervalUSec":
			u.unit[k] = v
		default:
			u.service[k] = v
		}
	}
}

func (b *fakeBus) job(verb string) func(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	return func(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
		b.mu.Lock()
		b.jobs = append(b.jobs, verb+" "+name)
		res := b.result[verb+" "+name]
		onJob := b.onJob
		b.mu.Unlock()
		if onJob != nil {
			onJob(verb, name)
		}
		if res == "" {
			res = "done"
		}
		ch <- res
		return 1, nil
	}
}

func (b *fakeBus) StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	return b.job("start")(ctx, name, mode, ch)
}

func (b *fakeBus) StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	return b.job("stop")(ctx, name, mode, ch)
}

func (b *fakeBus) RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	return b.job("restart")(ctx, name, mode, ch)
}

func (b *fakeBus) ResetFailedUnitContext(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.jobs = append(b.jobs, "reset-failed "+name)
	return nil
}

func (b *fakeBus) GetUnitPropertiesContext(_ context.Context, unit string) (map[string]any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads[unit]++
	u := b.units[unit]
	if u == nil {
		return map[string]any{"LoadState": "not-found", "ActiveState": "inactive"}, nil
	}
	m := map[string]any{}
	for k, v := range u.unit {
		m[k] = v
	}
	if sa, ok := b.stateAfter[unit]; ok {
		m["ActiveState"] = sa.before
		if b.reads[unit] > sa.n {
			m["ActiveState"] = sa.then
		}
	}
	return m, nil
}

func (b *fakeBus) GetUnitTypePropertiesContext(_ context.Context, unit, unitType string) (map[string]any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if unitType != "Service" {
		return nil, fmt.Errorf("fake: unit type %q", unitType)
	}
	u := b.units[unit]
	if u == nil {
		return map[string]any{}, nil
	}
	return u.service, nil
}

func (b *fakeBus) ListUnitsByPatternsContext(_ context.Context, states, patterns []string) ([]sddbus.UnitStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []sddbus.UnitStatus
	for name, u := range b.units {
		ok, _ := filepath.Match(patterns[0], name)
		if ok && u.unit["ActiveState"] == states[0] {
			out = append(out, sddbus.UnitStatus{Name: name, ActiveState: states[0]})
		}
	}
	return out, nil
}

func (b *fakeBus) Close() {}

// fakeDaemon is a Manager that records what it is asked.
type fakeDaemon struct{ calls []string }

func (d *fakeDaemon) Kind() Kind { return Daemon }
func (d *fakeDaemon) Start(_ context.Context, name string) error {
	d.calls = append(d.calls, "start "+name)
	return nil
}
func (d *fakeDaemon) Restart(_ context.Context, name string) error {
	d.calls = append(d.calls, "restart "+name)
	return nil
}
func (d *fakeDaemon) Stop(_ context.Context, name string, _ supervisor.Ladder) (string, error) {
	d.calls = append(d.calls, "stop "+name)
	return "", nil
}
func (d *fakeDaemon) Logs(context.Context, string, LogOptions, io.Writer) error { return nil }

// testState is a state directory with a directory for each VM name.
func testState(t *testing.T, names ...string) *state.Dir {
	t.Helper()
	d, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.MkdirAll(d.VMPath(n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// ourUnit is a loaded microvm@NAME of d's VM name in the given state.
func ourUnit(b *fakeBus, d *state.Dir, name, active string) {
	b.set(Unit(name), map[string]any{"ActiveState": active, "WorkingDirectory": d.VMPath(name)})
}

// testSystemd is the systemd manager over b, with a journal that says
// lines for every query and records the queries.
func testSystemd(b *fakeBus, d *state.Dir, runtime string, lines string, queries *[]string) *systemdManager {
	m := newSystemd(b, d, runtime)
	m.settle = time.Millisecond
	m.runFor = 20 * time.Millisecond
	m.journal = func(_ context.Context, args []string, w io.Writer) error {
		*queries = append(*queries, strings.Join(args, " "))
		_, err := io.WriteString(w, lines)
		return err
	}
	return m
}
