package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// restartVM restarts a running VM so it boots its current runner. Only
// systemd can do that for now: a VM started with `microvm run` belongs to
// the terminal that runs it. The embedded supervisor will add itself here.
func restartVM(ctx context.Context, e *env, name string) error {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return fmt.Errorf("restarting %q: no supervisor can restart it on this host (no systemd, and the microvm daemon has not landed yet); stop it and run it again", name)
	}
	unit := "microvm@" + name + ".service"
	e.printf("Restarting MicroVM %s\n", name)
	out, err := exec.CommandContext(ctx, "systemctl", "restart", unit).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl restart %s: %w: %s", unit, err, strings.TrimSpace(string(out)))
	}
	return nil
}
