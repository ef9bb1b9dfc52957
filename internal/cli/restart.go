package cli

import (
	"context"
	"fmt"
)

// restartVM restarts a running VM so it boots its current runner,
// through whoever manages it (the daemon or systemd: update -R under
// systemd is `systemctl restart`, which re-runs the helpers from the new
// current). A VM run in the foreground by `microvm run` belongs to its
// terminal and cannot be restarted here.
func restartVM(ctx context.Context, e *env, name string) error {
	e.printf("Restarting MicroVM %s\n", name)
	m, done, err := e.managerOf(ctx, "restarting", name)
	if err != nil {
		return err
	}
	defer done()
	if err := m.Restart(ctx, name); err != nil {
		return fmt.Errorf("restarting %q: %w", name, err)
	}
	return nil
}
