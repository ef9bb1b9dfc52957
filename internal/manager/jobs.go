package manager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// jobFunc is one of the bus's job methods.
type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// jobError is a systemd job that did not end "done".
type jobError struct {
	verb, unit, result string
}

func (e *jobError) Error() string {
	return fmt.Sprintf("systemd's %s job for %s ended %q", e.verb, e.unit, e.result)
}

// job enqueues verb on unit (mode replace, as systemctl) and waits for
// its result.
func (m *systemdManager) job(ctx context.Context, verb, unit string, f jobFunc) error {
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return fmt.Errorf("asking systemd to %s %s: %w", verb, unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return &jobError{verb: verb, unit: unit, result: res}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for systemd to %s %s: %w", verb, unit, ctx.Err())
	}
}

// explain adds to a failed job which of the VM's units failed and the
// last lines they logged: what a user would look for in the journal.
func (m *systemdManager) explain(ctx context.Context, name string, err error) error {
	var je *jobError
	if !errors.As(err, &je) {
		return err
	}
	var lines []string
	for _, unit := range append([]string{Unit(name)}, helperUnits(name)...) {
		u, perr := m.props(ctx, unit)
		if perr != nil || u.ActiveState != "failed" {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s failed (%s)", unit, u.Result))
		for _, l := range m.lastLines(ctx, u) {
			lines = append(lines, "  "+l)
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("%w; see `microvm logs %s`", err, name)
	}
	return fmt.Errorf("%w:\n  %s\n(more with `microvm logs %s`)", err, strings.Join(lines, "\n  "), name)
}

// lastLines returns what the unit's processes logged in their last run,
// its last few lines. journald reads their output asynchronously, so the
// lines may arrive just after the unit failed: it retries briefly.
func (m *systemdManager) lastLines(ctx context.Context, u unitProps) []string {
	if u.InvocationID == "" || m.journal == nil {
		return nil
	}
	const keep = 5
	args := []string{"_SYSTEMD_INVOCATION_ID=" + u.InvocationID, "--output=cat", "--lines=" + fmt.Sprint(keep), "--no-pager", "--quiet"}
	for range 10 {
		var b strings.Builder
		if m.journal(ctx, args, &b) != nil {
			return nil
		}
		if out := strings.TrimSpace(b.String()); out != "" {
			return strings.Split(out, "\n")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
