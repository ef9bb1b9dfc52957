package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// run runs a hypervisor's own control command (a path, or a name looked up
// on PATH), with env
// added to ours, and returns its standard output. Errors carry argv and
// everything the command printed.
func run(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		out := strings.TrimSpace(stdout.String() + "\n" + stderr.String())
		if out != "" {
			return nil, fmt.Errorf("running %q: %w: %s", cmd.Args, err, out)
		}
		return nil, fmt.Errorf("running %q: %w", cmd.Args, err)
	}
	return stdout.Bytes(), nil
}

// crosvmBalloon sets the balloon size (crosvm docs/book/src/devices/
// balloon.md: "crosvm balloon BYTES SOCKET") and returns the size crosvm
// reports, as microvm.nix does with balloon_stats and jq.
func crosvmBalloon(ctx context.Context, crosvm, socket string, size int64) (int64, error) {
	if _, err := run(ctx, nil, crosvm, "balloon", strconv.FormatInt(size*mib, 10), socket); err != nil {
		return 0, err
	}
	out, err := run(ctx, nil, crosvm, "balloon_stats", socket)
	if err != nil {
		return 0, err
	}
	var stats struct {
		BalloonStats struct {
			BalloonActual *int64 `json:"balloon_actual"`
		}
	}
	if err := json.Unmarshal(out, &stats); err != nil || stats.BalloonStats.BalloonActual == nil {
		return 0, fmt.Errorf("crosvm balloon_stats: unexpected output %q", bytes.TrimSpace(out))
	}
	return *stats.BalloonStats.BalloonActual / mib, nil
}
