package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// eventDaemon is fakeDaemon with the real event bus.
type eventDaemon struct {
	fakeDaemon
	bus supervisor.Bus
}

func (d *eventDaemon) Subscribe(since time.Time, names []string) *supervisor.Subscription {
	return d.bus.Subscribe(since, names)
}

// streamLimits time out in well under a second, so that a stream that
// outlives them shows it is not bound by them.
func streamLimits() Limits {
	lim := testLimits()
	lim.ReadHeaderTimeout = 200 * time.Millisecond
	lim.IdleTimeout = 200 * time.Millisecond
	lim.WriteTimeout = 200 * time.Millisecond
	return lim
}

// TestEventsStream: a stream outlives the server's timeouts, carries its
// VMs' events whole (the outcome too), and ends when the daemon closes
// the bus.
func TestEventsStream(t *testing.T) {
	d := &eventDaemon{}
	dir, ln := serve(t, d, &Access{}, streamLimits())
	c := NewClient(dir)
	ctx := context.Background()
	s, err := c.Events(ctx, time.Time{}, []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(time.Second) // five times every timeout of the server
	code := 3
	d.bus.Publish(supervisor.Event{VM: "db", Event: supervisor.EventStarting})
	d.bus.Publish(supervisor.Event{VM: "web", Event: supervisor.EventCrashed, State: supervisor.Stopped, Reason: "crashed: exit status 3",
		Outcome: &supervisor.Outcome{How: supervisor.Crashed, Code: &code}})
	time.Sleep(time.Second)
	d.bus.Publish(supervisor.Event{VM: "web", Event: supervisor.EventRestarting, Delay: "5s"})
	e, err := s.Next()
	if err != nil {
		t.Fatal(err)
	}
	if e.VM != "web" || e.Event != supervisor.EventCrashed || e.Outcome == nil || e.Outcome.How != supervisor.Crashed || *e.Outcome.Code != 3 || e.Time.IsZero() {
		t.Fatalf("first event: %+v", e)
	}
	if e, err = s.Next(); err != nil || e.Event != supervisor.EventRestarting || e.Delay != "5s" {
		t.Fatalf("second event: %+v, %v", e, err)
	}
	if n := ln.Open(uint32(os.Geteuid())); n != 1 {
		t.Errorf("%d connections open; the stream is one", n)
	}
	d.bus.Close()
	if _, err := s.Next(); !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("after the bus closed: %v, want ErrStreamEnded", err)
	}
	eventually(t, "the stream's slot given back", func() bool { return ln.Open(uint32(os.Geteuid())) == 0 })
}

// TestEventsSince: a client that reconnects catches up with the recent
// history after the last event it saw.
func TestEventsSince(t *testing.T) {
	d := &eventDaemon{}
	dir, _ := serve(t, d, &Access{}, testLimits())
	t0 := time.Now()
	d.bus.Publish(supervisor.Event{Time: t0, VM: "web", Event: supervisor.EventStopped})
	d.bus.Publish(supervisor.Event{Time: t0.Add(time.Millisecond), VM: "web", Event: supervisor.EventAdopted})
	s, err := NewClient(dir).Events(context.Background(), t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e, err := s.Next(); err != nil || e.Event != supervisor.EventAdopted || !e.Time.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("since %s: %+v, %v", t0, e, err)
	}
}

// TestEventsSlowClient: a client that never reads costs the daemon
// neither a blocked publisher nor its connection slot for longer than the
// write timeout.
func TestEventsSlowClient(t *testing.T) {
	d := &eventDaemon{}
	dir, ln := serve(t, d, &Access{}, streamLimits())
	c, err := net.Dial("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /v1/events HTTP/1.1\r\nHost: microvm\r\n\r\n")
	uid := uint32(os.Geteuid())
	eventually(t, "admitted", func() bool { return ln.Open(uid) == 1 })
	time.Sleep(100 * time.Millisecond) // subscribed
	// Far more than the socket buffers hold: the handler's write blocks,
	// the publisher never does.
	long := strings.Repeat("x", 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 * supervisor.SubscriberQueue {
			d.bus.Publish(supervisor.Event{VM: "web", Event: supervisor.EventCrashed, Reason: long})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Publish blocked on a client that does not read")
	}
	eventually(t, "the silent client dropped", func() bool { return ln.Open(uid) == 0 })
}

// TestEventsCaps: streams count against the connection caps for as long
// as they last.
func TestEventsCaps(t *testing.T) {
	lim := testLimits()
	lim.Total, lim.RootReserve, lim.PerUID = 2, 0, 2
	d := &eventDaemon{}
	dir, _ := serve(t, d, &Access{}, lim)
	c := NewClient(dir)
	for range 2 {
		s, err := c.Events(context.Background(), time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	if _, err := c.Events(context.Background(), time.Time{}, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third stream over a cap of 2: %v, want ErrBusy", err)
	}
	if _, err := c.Statuses(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("a status over a cap of 2: %v, want ErrBusy", err)
	}
}

// TestEventsBadQuery: what the stream cannot honour is refused, named.
func TestEventsBadQuery(t *testing.T) {
	d := &eventDaemon{}
	log, _ := newTestLog()
	h := NewServer(Handler(d, &Access{}, log), testLimits(), log).Handler
	for _, tc := range []struct{ query, want string }{
		{"vm=Bad!", `invalid VM name \"Bad!\"`},
		{"since=yesterday", `since=\"yesterday\": expected an RFC 3339 time`},
		{"name=web", `unknown parameter \"name\"`},
	} {
		req, _ := http.NewRequest("GET", EventsPath+"?"+tc.query, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("?%s: %d %s; want 400 with %s", tc.query, rec.Code, rec.Body, tc.want)
		}
	}
}
