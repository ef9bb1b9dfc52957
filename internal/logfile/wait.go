package logfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// pollInterval is Follow's fallback period when inotify is unavailable (out
// of instances, seccomp-filtered, or a filesystem without events).
const pollInterval = 500 * time.Millisecond

// waiter blocks until the followed file may have changed, or ctx ends.
type waiter interface {
	wait(ctx context.Context) error
	Close() error
}

// inotifyWaiter wakes on events in the log's directory naming the log. The
// watch is on the directory because a watch on the file follows its inode
// into path.1 and never sees the new path appear.
type inotifyWaiter struct {
	f    *os.File
	name []byte
	buf  []byte
}

func newInotifyWaiter(path string) (*inotifyWaiter, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	dir := filepath.Dir(path)
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watching %q: %w", dir, err)
	}
	// os.NewFile registers a non-blocking fd with the runtime poller, which
	// is what lets wait interrupt a blocked Read with a deadline.
	return &inotifyWaiter{
		f:    os.NewFile(uintptr(fd), "inotify"),
		name: []byte(filepath.Base(path)),
		buf:  make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1)),
	}, nil
}

func (w *inotifyWaiter) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		n, err := w.f.Read(w.buf)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("reading inotify: %w", err)
		}
		if w.relevant(w.buf[:n]) {
			return nil
		}
	}
}

// relevant reports whether the events in b concern the followed name, or
// may have (the kernel's queue overflowed and dropped some).
func (w *inotifyWaiter) relevant(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:])
		nameLen := int(binary.NativeEndian.Uint32(b[12:]))
		end := min(unix.SizeofInotifyEvent+nameLen, len(b))
		name := bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00")
		if mask&unix.IN_Q_OVERFLOW != 0 || bytes.Equal(name, w.name) {
			return true
		}
		b = b[end:]
	}
	return false
}

func (w *inotifyWaiter) Close() error { return w.f.Close() }

// pollWaiter is the fallback: wake every period and look.
type pollWaiter struct{ every time.Duration }

func (p pollWaiter) wait(ctx context.Context) error {
	t := time.NewTimer(p.every)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (pollWaiter) Close() error { return nil }
