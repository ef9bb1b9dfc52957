package apply

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/microvm-host/microvm/internal/state"
)

// Host carries out the steps on one VM, the way the CLI verbs do, through
// whoever manages the VM (the daemon, systemd, or nobody). Each method
// must check, under the VM's lock, that the VM is still apply's (or, for
// Create, still missing): the plan was computed before.
type Host interface {
	// Create creates name from src, recording apply as its owner.
	Create(ctx context.Context, name string, src state.Source) error
	// Start starts name and keeps it running.
	Start(ctx context.Context, name string) error
	// Update rebuilds name from src (recording src first when
	// record), and with restart restarts it if it runs another runner
	// than its new current one.
	Update(ctx context.Context, name string, src state.Source, record, restart bool) error
	// Restart restarts name so that it boots its current runner.
	Restart(ctx context.Context, name string) error
	// Remove stops name and removes it; without purge its data is kept,
	// and Remove says where.
	Remove(ctx context.Context, name string, purge bool) (keptAt string, err error)
}

// Result is how one step went.
type Result struct {
	Step
	Err error
	// Note says more: where a removed VM's data went.
	Note string
}

// Execute carries out the steps of p that change something, parallel at
// a time, and returns their results in the plan's order. A failed step
// does not stop the others. Steps are independent (one VM each), so the
// order they run in does not matter; Keep steps are not run.
func Execute(ctx context.Context, p *Plan, h Host, parallel int) []Result {
	parallel = max(parallel, 1)
	var results []Result
	for _, s := range p.Steps {
		if s.Action != Keep {
			results = append(results, Result{Step: s})
		}
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range results {
		r := &results[i]
		if r.Step.Err != nil {
			r.Err = r.Step.Err
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := ctx.Err(); err != nil {
				r.Err = fmt.Errorf("not started: %w", err)
				return
			}
			r.Note, r.Err = run(ctx, h, r.Step)
		}()
	}
	wg.Wait()
	return results
}

func run(ctx context.Context, h Host, s Step) (string, error) {
	switch s.Action {
	case Create:
		if err := h.Create(ctx, s.Name, s.Source); err != nil {
			return "", err
		}
		if s.Start {
			if err := h.Start(ctx, s.Name); err != nil {
				return "", fmt.Errorf("created, but starting failed: %w", err)
			}
		}
		return "", nil
	case Update:
		return "", h.Update(ctx, s.Name, s.Source, s.SourceChanged, s.RestartIfChanged)
	case Restart:
		return "", h.Restart(ctx, s.Name)
	case Remove:
		kept, err := h.Remove(ctx, s.Name, s.Purge)
		if kept != "" {
			return "data kept in " + kept, err
		}
		return "", err
	}
	return "", fmt.Errorf("unknown action %q", s.Action)
}

// Failed returns the results that failed.
func Failed(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}

// Summary is one line about results: how many steps were done, and which
// failed.
func Summary(results []Result) string {
	failed := Failed(results)
	if len(failed) == 0 {
		return fmt.Sprintf("Applied: %d done.", len(results))
	}
	names := make([]string, len(failed))
	for i, r := range failed {
		names[i] = r.Name
	}
	return fmt.Sprintf("Applied: %d done, %d failed: %s.", len(results)-len(failed), len(failed), strings.Join(names, ", "))
}
