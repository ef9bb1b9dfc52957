package supervisor

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/inotify"
)

// configEvents are the ways a file is changed in place (IN_CLOSE_WRITE:
// once the writer is done, not at each write) or replaced: editors and
// renameio write a temporary file and rename it over the old one, and
// NixOS's activation swaps /etc links the same way. The watch is on the
// file's directory, since a watch on the file itself would follow the
// replaced inode and miss every later change.
const configEvents = unix.IN_ONLYDIR | unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM

// ConfigSettle gathers the events of one save (an editor may write,
// rename and chmod) into one call.
const ConfigSettle = 300 * time.Millisecond

// WatchFile calls changed, in a goroutine of its own, once per burst of
// changes to the file at path (written, replaced, created or removed),
// settle after the burst's first event, until ctx ends. It returns once
// the watch is in place, or why it could not be set up.
func WatchFile(ctx context.Context, path string, settle time.Duration, changed func()) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	in, err := inotify.New()
	if err != nil {
		return fmt.Errorf("watching %s: %w", path, err)
	}
	if _, err := in.Add(dir, configEvents); err != nil {
		in.Close()
		return fmt.Errorf("watching %s: %w", path, err)
	}
	context.AfterFunc(ctx, func() { in.Close() })
	go func() {
		for {
			in.SetReadDeadline(time.Time{})
			evs, err := in.Read()
			if err != nil {
				return // closed: ctx ended
			}
			if !names(evs, base) {
				continue
			}
			// Swallow the rest of the burst.
			in.SetReadDeadline(time.Now().Add(settle))
			for {
				if _, err := in.Read(); err != nil {
					break
				}
			}
			if ctx.Err() != nil {
				return
			}
			changed()
		}
	}()
	return nil
}

// names reports whether one of evs names base, or may have: events
// were lost.
func names(evs []inotify.Event, base string) bool {
	for _, e := range evs {
		if e.Name == base || e.Overflow() {
			return true
		}
	}
	return false
}
