package supervisor

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
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("watching %s: %w", path, err)
	}
	// A non-blocking fd through os.NewFile uses the runtime's poller:
	// reads can time out, and Close ends a blocked one.
	f := os.NewFile(uintptr(fd), "inotify")
	if _, err := unix.InotifyAddWatch(fd, dir, configEvents); err != nil {
		f.Close()
		return fmt.Errorf("watching %s: %w", path, err)
	}
	context.AfterFunc(ctx, func() { f.Close() })
	go func() {
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			f.SetReadDeadline(time.Time{})
			n, err := f.Read(buf)
			if err != nil {
				return // closed: ctx ended
			}
			if !names(buf[:n], base) {
				continue
			}
			// Swallow the rest of the burst.
			f.SetReadDeadline(time.Now().Add(settle))
			for {
				if _, err := f.Read(buf); err != nil {
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

// names reports whether the inotify events in b name base.
func names(b []byte, base string) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if len(b) < unix.SizeofInotifyEvent+n {
			return false
		}
		name := b[unix.SizeofInotifyEvent : unix.SizeofInotifyEvent+n]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if string(name) == base {
			return true
		}
		b = b[unix.SizeofInotifyEvent+n:]
	}
	return false
}
