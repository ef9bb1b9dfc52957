package supervisor

import (
	"sync"
	"time"
)

// Kinds of Event: what happened to a VM.
const (
	EventCreated  = "created"  // a VM directory appeared (microvm create, or anything that renames one into place)
	EventUpdated  = "updated"  // its current link now names another runner
	EventRemoved  = "removed"  // its directory is gone
	EventStarting = "starting" // the monitor was spawned: host preparation, then the hypervisor
	// EventRunning: the hypervisor process runs. For runners that
	// forward the guest's sd_notify, EventReady follows when the guest
	// says READY (and status says running only from then on).
	EventRunning    = "running"
	EventReady      = "ready"
	EventStopping   = "stopping"   // a stop asked the VM to end
	EventStopped    = "stopped"    // the run ended and nothing restarts it; Outcome says how when it ended just now
	EventRebooted   = "rebooted"   // the guest rebooted: the hypervisor exited, a restart follows
	EventCrashed    = "crashed"    // the run ended without a stop asking and not cleanly (Outcome)
	EventRestarting = "restarting" // the restart policy starts it again after Delay
	EventFailed     = "failed"     // crash loop, or it could not be started again: not restarted
	EventAdopted    = "adopted"    // a new daemon took over a VM whose monitor outlived the previous one
	// EventLost stands for events a subscriber did not get because it
	// read too slowly (Lost counts them); it has no VM.
	EventLost = "lost"
)

// Event is one thing that happened to a VM, as GET /v1/events streams
// it: one JSON object a line.
type Event struct {
	Time  time.Time `json:"time"`
	VM    string    `json:"vm,omitempty"`
	Event string    `json:"event"`
	// State is the VM's state after the event, as status would say it.
	State string `json:"state,omitempty"`
	// Reason says why, in words: the request, the policy's decision, the
	// outcome. Guest and hypervisor words can be in it: print it
	// through printable.
	Reason string `json:"reason,omitempty"`
	// Outcome is how the run ended (stopped, rebooted, crashed).
	Outcome *Outcome `json:"outcome,omitempty"`
	// Delay is how long until a restart (restarting), a Go duration.
	Delay string `json:"delay,omitempty"`
	// PID is the hypervisor's (running, ready, adopted).
	PID int `json:"pid,omitempty"`
	// Lost is how many events a lost marker stands for.
	Lost int `json:"lost,omitempty"`
}

// Bounds of the event bus.
const (
	// SubscriberQueue is how many events a subscriber may fall behind
	// before it loses events: about 300 bytes each, so a subscriber
	// costs the daemon at most ~80 KB however slowly it reads.
	SubscriberQueue = 256
	// HistoryLen is how many recent events a new subscriber can ask for
	// (Subscribe's since): what a client that reconnects after a daemon
	// restart catches up with, the adoptions among them.
	HistoryLen = 256
)

// Bus hands every event to every subscriber without ever waiting for
// one: publishing happens under the VMs' locks, so a client that stops
// reading must not stall supervision. Each subscriber has a bounded
// queue; when it is full, that subscriber loses the events from then on
// until it has read the whole queue, and then gets one EventLost marker
// counting them in their place, so a reader always knows where its gap
// is and gets no event out of order.
type Bus struct {
	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	history []Event // ring of the last HistoryLen events
	next    int     // where the next event goes in history once full
	closed  bool
}

// Publish stamps e with the time (when unset) and hands it to every
// subscriber. It never blocks.
func (b *Bus) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.history) < HistoryLen {
		b.history = append(b.history, e)
	} else {
		b.history[b.next] = e
		b.next = (b.next + 1) % HistoryLen
	}
	for s := range b.subs {
		s.offer(e)
	}
}

// Subscribe returns a subscription to the events of the VMs names (all
// VMs when empty) from now on, preceded by those of the recent history
// that happened after since (none for the zero time).
func (b *Bus) Subscribe(since time.Time, names []string) *Subscription {
	s := &Subscription{bus: b, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if len(names) > 0 {
		s.names = map[string]bool{}
		for _, n := range names {
			s.names[n] = true
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !since.IsZero() {
		for i := range b.history {
			if e := b.history[(b.next+i)%len(b.history)]; e.Time.After(since) {
				s.offer(e)
			}
		}
	}
	if b.closed {
		close(s.done)
		return s
	}
	if b.subs == nil {
		b.subs = map[*Subscription]struct{}{}
	}
	b.subs[s] = struct{}{}
	return s
}

// Close ends every subscription (the daemon is going away); subscribers
// get what they have queued, then Next says the stream ended.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		close(s.done)
		delete(b.subs, s)
	}
}

// Subscription is one subscriber's queue.
type Subscription struct {
	bus   *Bus
	names map[string]bool // nil: every VM
	wake  chan struct{}   // a token when the queue got something
	done  chan struct{}   // closed by Close and Bus.Close

	mu    sync.Mutex
	queue []Event
	lost  int // events dropped since the queue was last full
}

// offer queues e unless the subscriber is behind; b.mu is held.
func (s *Subscription) offer(e Event) {
	if s.names != nil && !s.names[e.VM] {
		return
	}
	s.mu.Lock()
	if s.lost > 0 || len(s.queue) >= SubscriberQueue {
		s.lost++
	} else {
		s.queue = append(s.queue, e)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next returns the queued events, at least one, waiting until there are
// some; a lost marker comes after the queue that was full. ok is false
// once the subscription or the bus was closed and nothing is left, or
// when stop is closed first.
func (s *Subscription) Next(stop <-chan struct{}) (events []Event, ok bool) {
	for {
		s.mu.Lock()
		switch {
		case len(s.queue) > 0:
			events, s.queue = s.queue, nil
			s.mu.Unlock()
			return events, true
		case s.lost > 0:
			lost := Event{Time: time.Now(), Event: EventLost, Lost: s.lost}
			s.lost = 0
			s.mu.Unlock()
			return []Event{lost}, true
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
			s.mu.Lock()
			empty := len(s.queue) == 0 && s.lost == 0
			s.mu.Unlock()
			if empty {
				return nil, false
			}
		case <-stop:
			return nil, false
		}
	}
}

// Close unsubscribes.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.done)
	}
}
