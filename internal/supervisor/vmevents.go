package supervisor

import "time"

// Subscribe follows the daemon's events (see Bus.Subscribe): the API's
// GET /v1/events.
func (d *Daemon) Subscribe(since time.Time, names []string) *Subscription {
	return d.bus.Subscribe(since, names)
}

// CloseEvents ends every subscription once the subscribers have what
// was published, for a daemon that is going away: after Shutdown, so
// they see the VMs stop.
func (d *Daemon) CloseEvents() { d.bus.Close() }

// emit publishes e as an event of this VM. It is called next to
// logTransition, where a VM's state changes: the daemon's log and its
// event stream tell the same story.
func (v *vmSup) emit(kind, state, reason string, e Event) {
	e.VM, e.Event, e.State, e.Reason = v.name, kind, state, reason
	v.d.bus.Publish(e)
}

// exitEvent is the event of a run that ended without a stop asking:
// rebooted, crashed, or stopped for a clean end (a power-off).
func exitEvent(o Outcome) string {
	switch {
	case o.How == Rebooted:
		return EventRebooted
	case o.Clean():
		return EventStopped
	}
	return EventCrashed
}
