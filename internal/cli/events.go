package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

func newEventsCmd(e *env) *cobra.Command {
	var asJSON bool
	var since string
	cmd := &cobra.Command{
		Use:   "events [NAME...] [--json] [--since TIME]",
		Short: "Follow what happens to VMs: created, started, crashed, restarted, stopped, removed",
		Long: `Follow the daemon's events, of every VM or of the VMs named, one line
each, until Ctrl-C:

  created, updated, removed    the state directory changed (create, update,
                               remove, or anything else that changes it)
  starting, running, ready     a start; ready when the guest said READY
                               (runners that forward sd_notify)
  stopping, stopped            a stop, and how the run ended
  rebooted, crashed            a run ended without a stop asking
  restarting, failed           the restart policy: a restart after a delay,
                               or a crash loop given up on
  adopted                      a new daemon took over a running VM

--json prints each as the daemon sends it: one JSON object a line with
time, vm, event, state, reason, and outcome (how a run ended), delay
(restarting) or pid where they apply. --since replays the daemon's recent
events (the last ` + fmt.Sprint(supervisor.HistoryLen) + `) after TIME first: a duration ago ("10m") or
an RFC 3339 time.

A client that reads too slowly loses events rather than slowing the
daemon: after ` + fmt.Sprint(supervisor.SubscriberQueue) + ` unread events it gets none until it caught up,
then one "lost N events" line in their place. When the daemon goes away,
events waits for the next one and goes on with its events (adopted among
them). Events come from the daemon only; under systemd, follow
journalctl -f -u 'microvm@*'.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if err := checkNames(names); err != nil {
				return err
			}
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			return followEvents(cmd.Context(), e, names, from, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, one object a line")
	cmd.Flags().StringVar(&since, "since", "", "first replay the recent events after `TIME` (10m, or 2006-01-02T15:04:05Z)")
	return cmd
}

// parseSince reads --since: a duration before now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError("--since %q: expected a duration like 10m or a time like 2006-01-02T15:04:05Z", s)
}

// reconnectEvery is how often events looks for a daemon that went away.
const reconnectEvery = 500 * time.Millisecond

// followEvents prints the events until ctx ends. A daemon that goes away
// is waited for: its successor's events since the last one printed
// follow (its adoptions), so one events command sees a daemon restart
// through.
func followEvents(ctx context.Context, e *env, names []string, since time.Time, asJSON bool) error {
	c := api.NewClient(state.RuntimeDir())
	subscribed := time.Now()
	s, err := c.Events(ctx, since, names)
	if errors.Is(err, api.ErrNoDaemon) {
		return fmt.Errorf("events: %w; the daemon publishes them (under systemd, follow journalctl -f -u 'microvm@*')", err)
	}
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	last := since
	if last.IsZero() {
		last = subscribed
	}
	for {
		ev, err := s.Next()
		if err == nil {
			if err := printEvent(e, ev, asJSON); err != nil {
				s.Close()
				return err
			}
			if ev.Event != supervisor.EventLost {
				last = ev.Time
			}
			continue
		}
		s.Close()
		if ctx.Err() != nil {
			return nil
		}
		fmt.Fprintf(e.stderr, "microvm: events: %v; waiting for the daemon (Ctrl-C to stop)\n", err)
		if s, err = resubscribe(ctx, c, last, names); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("events: %w", err)
		}
		fmt.Fprintln(e.stderr, "microvm: events: following the daemon again")
	}
}

// resubscribe waits for a daemon to subscribe to again, from after the
// last event seen.
func resubscribe(ctx context.Context, c *api.Client, last time.Time, names []string) (*api.EventStream, error) {
	for {
		s, err := c.Events(ctx, last, names)
		switch {
		case err == nil:
			return s, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, api.ErrNoDaemon), errors.Is(err, api.ErrBusy), isDialError(err):
		default:
			return nil, err // an answer, and not one worth waiting out
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(reconnectEvery):
		}
	}
}

// isDialError reports an error of connecting (a socket left behind by a
// daemon that died, before the next one replaced it).
func isDialError(err error) bool {
	var ae *api.Error
	return !errors.As(err, &ae) // every answer of the daemon is an *api.Error
}

func printEvent(e *env, ev supervisor.Event, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(e.stdout, eventLine(ev))
	return err
}

// eventLine is an event in words, one line, escaped: reasons can hold
// the hypervisor's and the guest's words.
//
//	2026-12-03 10:00:00.120  web  crashed: exit status 3
//	2026-12-03 10:00:00.121  web  restarting in 5s: crashed: exit status 3
func eventLine(ev supervisor.Event) string {
	when := ev.Time.Local().Format("2006-01-02 15:04:05.000")
	if ev.Event == supervisor.EventLost {
		return fmt.Sprintf("%s  lost %d events: this client read too slowly", when, ev.Lost)
	}
	what := ev.Event
	if ev.Delay != "" {
		what += " in " + ev.Delay
	}
	switch {
	case ev.Reason == "":
	case strings.HasPrefix(ev.Reason, ev.Event):
		what = ev.Reason // "crashed: exit status 3", "rebooted by the guest"
	default:
		what += ": " + ev.Reason
	}
	return when + "  " + printable.Text(ev.VM) + "  " + printable.Text(what)
}
