// Package inotify is the part of Linux's inotify that microvm uses: an
// instance read through the Go runtime's poller, so that a read can time
// out and Close ends a blocked one, and the events of a read, decoded.
// It is not fsnotify, which always asks for IN_MODIFY: a watch on a VM
// directory would then wake its reader on every write to a guest's disk
// image (see the supervisor's state watch).
package inotify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Event is one inotify event. Name is the entry of the watched directory
// it concerns; "" for the directory itself.
type Event struct {
	WD   int
	Mask uint32
	Name string
}

// Overflow reports whether the kernel's queue overflowed: events were
// lost, and the reader must look again at everything it watches.
func (e Event) Overflow() bool { return e.Mask&unix.IN_Q_OVERFLOW != 0 }

// Instance is an inotify instance.
type Instance struct {
	f   *os.File
	fd  int
	buf []byte
}

// New makes an instance.
func New() (*Instance, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	// os.NewFile registers the non-blocking fd with the runtime's poller:
	// reads then honour deadlines, and Close ends a blocked one.
	return &Instance{
		f:   os.NewFile(uintptr(fd), "inotify"),
		fd:  fd,
		buf: make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1)),
	}, nil
}

// Add watches dir for the events of mask and returns the watch.
func (in *Instance) Add(dir string, mask uint32) (int, error) {
	return unix.InotifyAddWatch(in.fd, dir, mask)
}

// Remove ends a watch.
func (in *Instance) Remove(wd int) error {
	_, err := unix.InotifyRmWatch(in.fd, uint32(wd))
	return err
}

// Read waits for events, until the read deadline (an error then).
func (in *Instance) Read() ([]Event, error) {
	n, err := in.f.Read(in.buf)
	if err != nil {
		return nil, err
	}
	return Parse(in.buf[:n]), nil
}

// SetReadDeadline bounds the reads to come; the zero time lets them wait
// as long as it takes.
func (in *Instance) SetReadDeadline(t time.Time) error { return in.f.SetReadDeadline(t) }

// Close ends the instance and its watches, and any read waiting.
func (in *Instance) Close() error { return in.f.Close() }

// Parse decodes the events of one read. A truncated last event is
// decoded as far as it goes.
func Parse(b []byte) []Event {
	var out []Event
	for len(b) >= unix.SizeofInotifyEvent {
		nameLen := int(binary.NativeEndian.Uint32(b[12:]))
		end := min(unix.SizeofInotifyEvent+nameLen, len(b))
		out = append(out, Event{
			WD:   int(int32(binary.NativeEndian.Uint32(b[0:]))),
			Mask: binary.NativeEndian.Uint32(b[4:]),
			Name: string(bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00")),
		})
		b = b[end:]
	}
	return out
}
