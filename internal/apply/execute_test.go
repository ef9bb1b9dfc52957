package apply

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/state"
)

// fakeHost records what was done to which VM, fails the VMs in fail, and
// tracks how many steps ran at once.
type fakeHost struct {
	mu          sync.Mutex
	did         []string
	fail        map[string]bool
	now, most   int
	slow        time.Duration
	removedData string
}

func (f *fakeHost) do(what, name string) error {
	f.mu.Lock()
	f.did = append(f.did, what+" "+name)
	f.now++
	f.most = max(f.most, f.now)
	f.mu.Unlock()
	time.Sleep(f.slow)
	f.mu.Lock()
	f.now--
	f.mu.Unlock()
	if f.fail[name] {
		return errors.New(what + " failed")
	}
	return nil
}

func (f *fakeHost) Create(_ context.Context, name string, _ state.Source) error {
	return f.do("create", name)
}
func (f *fakeHost) Start(_ context.Context, name string) error { return f.do("start", name) }
func (f *fakeHost) Update(_ context.Context, name string, _ state.Source, record, restart bool) error {
	what := "update"
	if record {
		what += "+record"
	}
	if restart {
		what += "+restart"
	}
	return f.do(what, name)
}
func (f *fakeHost) Restart(_ context.Context, name string) error { return f.do("restart", name) }
func (f *fakeHost) Remove(_ context.Context, name string, purge bool) (string, error) {
	what := "remove"
	if purge {
		return "", f.do(what+"+purge", name)
	}
	return f.removedData, f.do(what, name)
}

func TestExecute(t *testing.T) {
	p := &Plan{Steps: []Step{
		{Name: "a", Action: Create, Start: true},
		{Name: "b", Action: Update, SourceChanged: true, RestartIfChanged: true},
		{Name: "broken", Action: Update, Err: errors.New("source /x: no such file or directory")},
		{Name: "c", Action: Restart},
		{Name: "fails", Action: Create, Start: true},
		{Name: "k", Action: Keep},
		{Name: "old", Action: Remove},
		{Name: "purged", Action: Remove, Purge: true},
	}}
	h := &fakeHost{fail: map[string]bool{"fails": true}, removedData: "/state/.removed/old-x", slow: 20 * time.Millisecond}
	results := Execute(context.Background(), p, h, 2)
	slices.Sort(h.did)
	want := []string{"create a", "create fails", "remove old", "remove+purge purged", "restart c", "start a", "update+record+restart b"}
	if !slices.Equal(h.did, want) {
		t.Errorf("did %q; want %q (no start after a failed create, nothing for keep or a step that cannot)", h.did, want)
	}
	if h.most != 2 {
		t.Errorf("%d steps at once; want 2, the parallelism", h.most)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "broken", "c", "fails", "old", "purged"}) {
		t.Errorf("results for %q; want every step but keep, in the plan's order", names)
	}
	if r := results[5]; r.Note != "data kept in /state/.removed/old-x" || r.Err != nil {
		t.Errorf("remove: %+v", r)
	}
	failed := Failed(results)
	if len(failed) != 2 || failed[0].Name != "broken" || failed[1].Name != "fails" {
		t.Errorf("failed: %+v", failed)
	}
	if got, want := Summary(results), "Applied: 5 done, 2 failed: broken, fails."; got != want {
		t.Errorf("Summary = %q; want %q", got, want)
	}
	if got, want := Summary(results[:1]), "Applied: 1 done."; got != want {
		t.Errorf("Summary = %q; want %q", got, want)
	}
}

// TestExecuteCancelled: steps not started when the context ends are
// failed, not run.
func TestExecuteCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := &fakeHost{}
	results := Execute(ctx, &Plan{Steps: []Step{{Name: "a", Action: Create}}}, h, 1)
	if len(h.did) != 0 || len(results) != 1 || !errors.Is(results[0].Err, context.Canceled) {
		t.Errorf("did %q, results %+v", h.did, results)
	}
}
