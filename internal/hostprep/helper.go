package hostprep

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/trust"
)

// runHelper runs one of the runner's own setup scripts (bin/tap-up, …) in
// the VM directory, as microvm.nix's units do; its output is in the error.
func (p *Prep) runHelper(ctx context.Context, r *runner.Runner, script, vmDir string) error {
	path, err := p.checkHelper(r, script)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir = vmDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", path, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// checkHelper returns the script to run as root, refusing one the VM user
// could change: the runner is in a store only root writes, but a script
// may be a link out of it (microvm.nix's bin/ entries point into
// /nix/store; a hand-written runner's could point anywhere).
func (p *Prep) checkHelper(r *runner.Runner, script string) (string, error) {
	path := filepath.Join(r.Dir, script)
	vm := p.ID.VMUser()
	if vm == nil {
		return path, nil
	}
	// Checked through the links; run by its name, which nothing the VM
	// user controls can now redirect (scripts may look at their $0).
	if _, err := trust.CheckFile(path, *vm); err != nil {
		return "", fmt.Errorf("not running %s as root: %w", path, err)
	}
	return path, nil
}
