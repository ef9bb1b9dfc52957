package supervisor

import (
	"fmt"
	"testing"
	"time"
)

// next is one Next that must not wait: the test published already.
func next(t *testing.T, s *Subscription) []Event {
	t.Helper()
	stop := make(chan struct{})
	timer := time.AfterFunc(10*time.Second, func() { close(stop) })
	defer timer.Stop()
	events, ok := s.Next(stop)
	if !ok {
		t.Fatal("Next: no events")
	}
	return events
}

// TestBusSlowSubscriber: a subscriber that does not read never blocks
// Publish; it gets its full queue, then one marker counting what it lost,
// then what came after it caught up, in order.
func TestBusSlowSubscriber(t *testing.T) {
	var b Bus
	s := b.Subscribe(time.Time{}, nil)
	defer s.Close()
	const extra = 1000
	for i := range SubscriberQueue + extra {
		b.Publish(Event{VM: "vm", Event: EventStarting, Reason: fmt.Sprint(i)})
	}
	got := next(t, s)
	if len(got) != SubscriberQueue {
		t.Fatalf("got %d queued events, want %d", len(got), SubscriberQueue)
	}
	for i, e := range got {
		if e.Reason != fmt.Sprint(i) {
			t.Fatalf("event %d is %q: out of order", i, e.Reason)
		}
	}
	// Published after the reader made room, but before it got the
	// marker: part of the gap, not after it.
	b.Publish(Event{VM: "vm", Event: EventRunning, Reason: "in the gap"})
	lost := next(t, s)
	if len(lost) != 1 || lost[0].Event != EventLost || lost[0].Lost != extra+1 {
		t.Fatalf("after the queue: %+v; want one lost marker of %d", lost, extra+1)
	}
	b.Publish(Event{VM: "vm", Event: EventStopped, Reason: "after"})
	if got := next(t, s); len(got) != 1 || got[0].Reason != "after" {
		t.Fatalf("after the marker: %+v", got)
	}
}

// TestBusFilterHistory: a subscriber gets only its VMs' events, and with
// since the recent history after it (a ring of HistoryLen).
func TestBusFilterHistory(t *testing.T) {
	var b Bus
	t0 := time.Now()
	for i := range HistoryLen + 10 {
		vm := "a"
		if i%2 == 1 {
			vm = "b"
		}
		b.Publish(Event{Time: t0.Add(time.Duration(i) * time.Millisecond), VM: vm, Event: EventStarting, Reason: fmt.Sprint(i)})
	}
	all := b.Subscribe(t0.Add(-time.Hour), nil)
	defer all.Close()
	got := next(t, all)
	if len(got) != HistoryLen || got[0].Reason != "10" || got[len(got)-1].Reason != fmt.Sprint(HistoryLen+9) {
		t.Fatalf("history: %d events from %q to %q; want the last %d", len(got), got[0].Reason, got[len(got)-1].Reason, HistoryLen)
	}
	since := b.Subscribe(t0.Add(time.Duration(HistoryLen+5)*time.Millisecond), []string{"b"})
	defer since.Close()
	got = next(t, since)
	if len(got) != 2 || got[0].Reason != fmt.Sprint(HistoryLen+7) || got[1].Reason != fmt.Sprint(HistoryLen+9) {
		t.Fatalf("b since %d: %+v", HistoryLen+5, got)
	}
	now := b.Subscribe(time.Time{}, []string{"a"})
	defer now.Close()
	b.Publish(Event{VM: "b", Event: EventStopped})
	b.Publish(Event{VM: "a", Event: EventStopped})
	if got := next(t, now); len(got) != 1 || got[0].VM != "a" || got[0].Time.IsZero() {
		t.Fatalf("a from now: %+v", got)
	}
}

// TestBusClose: closing the bus ends every subscription after what it
// queued; a subscription's own Close ends only it.
func TestBusClose(t *testing.T) {
	var b Bus
	s1 := b.Subscribe(time.Time{}, nil)
	s2 := b.Subscribe(time.Time{}, nil)
	s2.Close()
	b.Publish(Event{VM: "vm", Event: EventStopping})
	if _, ok := s2.Next(nil); ok {
		t.Error("a closed subscription got events")
	}
	b.Close()
	if got := next(t, s1); len(got) != 1 {
		t.Fatalf("queued before Close: %+v", got)
	}
	if _, ok := s1.Next(nil); ok {
		t.Error("Next after Close and an empty queue: still ok")
	}
	s1.Close() // after the bus closed it: no double close
}
