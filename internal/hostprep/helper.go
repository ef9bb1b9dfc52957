package hostprep

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/runner"
)

// runHelper runs one of the runner's own setup scripts (bin/tap-up, …) in
// the VM directory, as microvm.nix's units do; its output is in the error.
func runHelper(ctx context.Context, r *runner.Runner, script, vmDir string) error {
	path := filepath.Join(r.Dir, script)
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir = vmDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", path, err, strings.TrimSpace(out.String()))
	}
	return nil
}
