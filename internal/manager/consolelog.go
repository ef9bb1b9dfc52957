package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/microvm-host/microvm/internal/logfile"
	"github.com/microvm-host/microvm/internal/state"
)

// consoleLog shows the console log `microvm run --monitor` writes (the
// daemon runs every VM that way).
func consoleLog(ctx context.Context, d *state.Dir, name string, o LogOptions, w io.Writer) error {
	path := d.LogPath(name)
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("logs of %q: %w", name, err)
	}
	// The size is taken before the tail, so following starts at or
	// before its end: nothing is lost, at worst a line shown twice.
	b, err := logfile.Tail(path, o.Lines)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil || !o.Follow {
		return err
	}
	err = logfile.Follow(ctx, path, fi.Size(), w)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}
