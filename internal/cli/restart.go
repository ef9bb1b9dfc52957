package cli

import (
	"context"
	"fmt"
)

// restartVM restarts a running VM so it boots its current runner,
// through the daemon or systemd. A VM run in the foreground by
// `microvm run` belongs to its terminal and cannot be restarted here.
func restartVM(ctx context.Context, e *env, name string) error {
	e.printf("Restarting MicroVM %s\n", name)
	if err := viaDaemonOrSystemd(ctx, e, "restart", name); err != nil {
		return fmt.Errorf("restarting %q: %w", name, err)
	}
	return nil
}
