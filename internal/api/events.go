package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// EventsPath streams the daemon's events: GET, one JSON object a line
// (supervisor.Event), for as long as the client reads. ?vm=NAME (again
// for more) keeps the events of those VMs; ?since=TIME (RFC 3339) first
// replays those of the daemon's recent history after TIME. Reading is
// open to every peer that may connect, as status is.
const EventsPath = "/v1/events"

// EventSource is a Daemon with events; *supervisor.Daemon is one.
type EventSource interface {
	Subscribe(since time.Time, names []string) *supervisor.Subscription
}

// A stream is one long reply, which the server's timeouts were not made
// for: ReadHeaderTimeout and IdleTimeout do not run while a handler
// does, and the WriteTimeout that guard arms for a reply is set again
// before each write here, so it bounds every write (a client that reads
// nothing for that long is dropped and its connection slot freed) and
// never the stream. The connection counts against the peer's caps like
// any other for as long as it stays open. A slow client never blocks
// the daemon: its events queue in its supervisor.Subscription, bounded,
// and what does not fit is lost and counted (supervisor.Bus).
func eventsHandler(src EventSource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		since, names, err := eventsQuery(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		sub := src.Subscribe(since, names)
		defer sub.Close()
		rc := http.NewResponseController(w)
		write := func(b []byte) error {
			var deadline time.Time
			if d := writeTimeoutOf(w); d > 0 {
				deadline = time.Now().Add(d)
			}
			rc.SetWriteDeadline(deadline)
			if _, err := w.Write(b); err != nil {
				return err
			}
			return rc.Flush()
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		// The headers go out now: the client knows it is subscribed.
		if err := write(nil); err != nil {
			return
		}
		var buf []byte
		for {
			events, ok := sub.Next(r.Context().Done())
			if !ok {
				return
			}
			buf = buf[:0]
			for _, e := range events {
				b, err := json.Marshal(e)
				if err != nil {
					continue // an Event always marshals
				}
				buf = append(append(buf, b...), '\n')
			}
			if err := write(buf); err != nil {
				return
			}
		}
	}
}

// eventsQuery reads ?since= and ?vm=, refusing anything else.
func eventsQuery(r *http.Request) (since time.Time, names []string, err error) {
	q := r.URL.Query()
	for key := range q {
		if key != "since" && key != "vm" {
			return since, nil, &kindError{ErrBadRequest, fmt.Sprintf("events: unknown parameter %q; expected vm=NAME or since=TIME", key)}
		}
	}
	if s := q.Get("since"); s != "" {
		if since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return since, nil, &kindError{ErrBadRequest, fmt.Sprintf("events: since=%q: expected an RFC 3339 time like 2006-01-02T15:04:05Z", s)}
		}
	}
	for _, n := range q["vm"] {
		if err := state.CheckName(n); err != nil {
			return since, nil, &kindError{ErrInvalidName, err.Error()}
		}
	}
	return since, q["vm"], nil
}

// writeTimeoutOf is the write timeout guard gave the reply w.
func writeTimeoutOf(w http.ResponseWriter) time.Duration {
	if rd, ok := w.(*replyDeadline); ok {
		return rd.d
	}
	return DefaultLimits.WriteTimeout
}
