package logfile

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/inotify"
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
	in   *inotify.Instance
	name string
}

func newInotifyWaiter(path string) (*inotifyWaiter, error) {
	in, err := inotify.New()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE)
	if _, err := in.Add(dir, mask); err != nil {
		in.Close()
		return nil, fmt.Errorf("watching %q: %w", dir, err)
	}
	return &inotifyWaiter{in: in, name: filepath.Base(path)}, nil
}

func (w *inotifyWaiter) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { w.in.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		evs, err := w.in.Read()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("reading inotify: %w", err)
		}
		if w.relevant(evs) {
			return nil
		}
	}
}

// relevant reports whether evs concern the followed name, or may have
// (the kernel's queue overflowed and dropped some).
func (w *inotifyWaiter) relevant(evs []inotify.Event) bool {
	for _, e := range evs {
		if e.Overflow() || e.Name == w.name {
			return true
		}
	}
	return false
}

func (w *inotifyWaiter) Close() error { return w.in.Close() }

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
