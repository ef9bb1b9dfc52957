package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/inotify"
	"github.com/microvm-host/microvm/internal/state"
)

// The daemon learns of created, updated and removed VMs from the kernel
// (inotify on the state directory), not from the commands that make the
// changes: create, update and remove run without the daemon, and so do
// the other writers of a state directory (microvm.nix's own scripts, a
// NixOS activation that swaps current, a runner linked by hand). A
// notification through the API would miss all of those, every change
// made while the daemon was down, and would let any peer of the socket
// (the VM user among them) forge events. The watches are narrow on
// purpose: the root for entries renamed in and out (create commits a
// staged directory with a rename, remove renames it into .tmp), and each
// VM directory for its current link only. A VM directory also holds the
// volume images the hypervisor writes, so a watch there that included
// IN_MODIFY would wake the daemon on every guest disk write (see package
// inotify).
const (
	rootEvents = unix.IN_ONLYDIR | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM
	vmEvents   = unix.IN_ONLYDIR | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM
)

// watchSettle gathers the events of one change (a create is a rename
// plus the links inside it) into one look at the directory.
const watchSettle = 50 * time.Millisecond

// watchPoll is how often the state directory is looked at without
// inotify (out of instances or watches), or while it does not exist.
const watchPoll = 2 * time.Second

// stateWatch turns changes of the state directory into events.
type stateWatch struct {
	d      *Daemon
	in     *inotify.Instance // nil: polling
	rootWD int
	vmWD   map[int]string // watch → VM
	wdOf   map[string]int
	known  map[string]string // VM → its current runner ("" for none)
	warned bool              // about running out of watches
}

// watchState starts watching the state directory: what is there now is
// known (no events for it), what changes from now on is published. It
// returns once the watches are in place.
func (d *Daemon) watchState() {
	s := &stateWatch{d: d, rootWD: -1, vmWD: map[int]string{}, wdOf: map[string]int{}, known: map[string]string{}}
	in, err := inotify.New()
	if err != nil {
		d.Log.Warn("watching the state directory: inotify unavailable; looking every "+watchPoll.String()+" instead", "err", err)
	} else {
		s.in = in
		context.AfterFunc(d.ctx, func() { in.Close() })
	}
	s.addRoot()
	s.scan(change{root: true}, false)
	go s.run()
}

// addRoot watches the root, when there is one and inotify is.
func (s *stateWatch) addRoot() {
	if s.in == nil || s.rootWD >= 0 {
		return
	}
	wd, err := s.in.Add(s.d.State.Root, rootEvents)
	if err == nil {
		s.rootWD = wd
	} else if !errors.Is(err, unix.ENOENT) {
		s.d.Log.Warn("watching the state directory", "dir", s.d.State.Root, "err", err)
	}
}

func (s *stateWatch) run() {
	if s.in == nil {
		s.poll()
		return
	}
	for {
		if s.rootWD < 0 { // no state directory yet
			select {
			case <-s.d.ctx.Done():
				return
			case <-time.After(watchPoll):
			}
			s.addRoot()
			if s.rootWD >= 0 {
				s.scan(change{root: true, all: true}, true)
			}
			continue
		}
		s.in.SetReadDeadline(time.Time{})
		evs, err := s.in.Read()
		if err != nil {
			if s.d.ctx.Err() == nil {
				s.d.Log.Warn("watching the state directory: reading inotify; created, updated and removed VMs are no longer reported", "err", err)
			}
			return
		}
		c := newChange()
		s.parse(evs, &c)
		// More of the same change may follow: gather it.
		s.in.SetReadDeadline(time.Now().Add(watchSettle))
		for {
			evs, err := s.in.Read()
			if err != nil {
				break
			}
			s.parse(evs, &c)
		}
		if s.d.ctx.Err() != nil {
			return
		}
		s.scan(c, true)
	}
}

// poll is run without inotify: the whole directory, every watchPoll.
func (s *stateWatch) poll() {
	for {
		select {
		case <-s.d.ctx.Done():
			return
		case <-time.After(watchPoll):
		}
		s.scan(change{root: true, all: true}, true)
	}
}

// change is what a batch of inotify events says to look at again.
type change struct {
	root    bool            // entries of the root came or went
	all     bool            // events were lost: every VM's current link
	gone    map[string]bool // VM directories that left the root (maybe to come back)
	touched map[string]bool // VMs whose current link may have changed
}

func newChange() change { return change{gone: map[string]bool{}, touched: map[string]bool{}} }

// parse reads what evs say changed into c.
func (s *stateWatch) parse(evs []inotify.Event, c *change) {
	for _, e := range evs {
		wd, mask, name := e.WD, e.Mask, e.Name
		switch {
		case e.Overflow():
			c.root, c.all = true, true
		case mask&unix.IN_IGNORED != 0: // the watched directory is gone
			if vm, ok := s.vmWD[wd]; ok {
				delete(s.vmWD, wd)
				if s.wdOf[vm] == wd {
					delete(s.wdOf, vm)
				}
			}
			if wd == s.rootWD {
				s.rootWD = -1
				c.root = true
			}
		case wd == s.rootWD:
			if !strings.HasPrefix(name, ".") {
				c.root = true
				if mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0 {
					c.gone[name] = true
				}
			}
		case name == state.CurrentLink:
			if vm, ok := s.vmWD[wd]; ok {
				c.touched[vm] = true
			}
		}
	}
}

// scan looks at the directory again and publishes what c says changed:
// which VMs exist (c.root), and the current links of the VMs c touched
// (or of all). Without announce it only learns what is there.
func (s *stateWatch) scan(c change, announce bool) {
	var events []Event
	if c.root {
		present := s.vmNames()
		for name := range s.known {
			if present[name] && !c.gone[name] {
				continue
			}
			// Gone, or replaced by another directory of the same name
			// (then created below): the old one's watch would follow
			// it into .tmp.
			delete(s.known, name)
			if wd, ok := s.wdOf[name]; ok {
				s.in.Remove(wd)
				delete(s.wdOf, name)
				delete(s.vmWD, wd)
			}
			events = append(events, Event{VM: name, Event: EventRemoved, Reason: "its directory is gone"})
		}
		for name := range present {
			if _, ok := s.known[name]; ok {
				continue
			}
			// Watched before its link is read: a swap in between is
			// an event.
			s.addVM(name)
			cur := s.current(name)
			s.known[name] = cur
			events = append(events, Event{VM: name, Event: EventCreated, State: Stopped, Reason: runnerWords(cur)})
			delete(c.touched, name)
		}
	}
	for name, was := range s.known {
		if !c.all && !c.touched[name] {
			continue
		}
		if cur := s.current(name); cur != "" && cur != was {
			s.known[name] = cur
			events = append(events, Event{VM: name, Event: EventUpdated, Reason: fmt.Sprintf("%s (was %s)", runnerWords(cur), runnerWords(was))})
		}
	}
	if !announce {
		return
	}
	// Removed before created: a name that was replaced.
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].VM != events[j].VM {
			return events[i].VM < events[j].VM
		}
		return events[i].Event == EventRemoved
	})
	for _, e := range events {
		s.d.bus.Publish(e)
	}
}

// vmNames are the VM directories of the root now.
func (s *stateWatch) vmNames() map[string]bool {
	entries, err := os.ReadDir(s.d.State.Root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.d.Log.Warn("watching the state directory", "err", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && state.CheckName(e.Name()) == nil {
			names[e.Name()] = true
		}
	}
	return names
}

// addVM watches the VM directory name for its current link.
func (s *stateWatch) addVM(name string) {
	if s.in == nil {
		return
	}
	wd, err := s.in.Add(s.d.State.VMPath(name), vmEvents)
	if err != nil {
		if errors.Is(err, unix.ENOSPC) && !s.warned {
			s.warned = true
			s.d.Log.Warn("watching VM directories: out of inotify watches (fs.inotify.max_user_watches); updates of some VMs are not reported", "vm", name)
		}
		return
	}
	s.vmWD[wd], s.wdOf[name] = name, wd
}

// current is the VM's current runner, "" when it has none microvm wrote.
func (s *stateWatch) current(name string) string {
	cur, err := s.d.State.ReadLink(name, state.CurrentLink)
	if err != nil {
		return ""
	}
	return cur
}

func runnerWords(runner string) string {
	if runner == "" {
		return "no current runner"
	}
	return "runner " + runner
}
