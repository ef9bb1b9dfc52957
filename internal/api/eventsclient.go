package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// maxEventLine bounds one line of the event stream: a daemon's events
// are far smaller, and a client must not buffer without bound.
const maxEventLine = 1 << 20

// ErrStreamEnded is what EventStream.Next returns when the daemon ended
// the stream (it is going away, or it dropped a client that stopped
// reading).
var ErrStreamEnded = errors.New("the daemon ended the event stream")

// EventStream is a subscription to the daemon's events.
type EventStream struct {
	body   io.ReadCloser
	sc     *bufio.Scanner
	cancel context.CancelFunc
}

// Events subscribes to the events of the VMs names (all when empty), the
// recent ones after since first (none for the zero time). Connecting and
// the daemon's answer are bounded as a status request is; the stream then
// lasts until ctx ends, Close, or the daemon ends it.
func (c *Client) Events(ctx context.Context, since time.Time, names []string) (*EventStream, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.Format(time.RFC3339Nano))
	}
	for _, n := range names {
		q.Add("vm", n)
	}
	path := EventsPath
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	sctx, cancel := context.WithCancel(ctx)
	// Only the answer's headers are bounded: a timer, not a deadline, so
	// that the stream itself may last.
	hctx, hcancel := context.WithCancel(sctx)
	timer := time.AfterFunc(c.statusTimeout, hcancel)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, "http://microvm"+path, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	stop := context.AfterFunc(hctx, cancel)
	resp, err := c.http.Do(req)
	timedOut := !timer.Stop()
	stop()
	if err != nil {
		cancel()
		if timedOut {
			return nil, c.failed(ctx, hctx, c.statusTimeout, err)
		}
		return nil, c.failed(ctx, ctx, c.statusTimeout, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		return nil, errorOf(resp, http.MethodGet, path)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	return &EventStream{body: resp.Body, sc: sc, cancel: cancel}, nil
}

// Next waits for the next event. It returns ErrStreamEnded when the
// daemon ends the stream, and an error wrapping the context's when the
// subscription's context ended or Close was called.
func (s *EventStream) Next() (supervisor.Event, error) {
	if !s.sc.Scan() {
		err := s.sc.Err()
		switch {
		case err == nil, errors.Is(err, io.ErrUnexpectedEOF):
			return supervisor.Event{}, ErrStreamEnded
		case errors.Is(err, bufio.ErrTooLong):
			return supervisor.Event{}, fmt.Errorf("reading the event stream: a line over %d bytes", maxEventLine)
		}
		return supervisor.Event{}, fmt.Errorf("reading the event stream: %w", err)
	}
	var e supervisor.Event
	if err := json.Unmarshal(s.sc.Bytes(), &e); err != nil {
		return e, fmt.Errorf("reading the event stream: %w", err)
	}
	return e, nil
}

// Close ends the subscription.
func (s *EventStream) Close() error {
	s.cancel()
	return s.body.Close()
}
