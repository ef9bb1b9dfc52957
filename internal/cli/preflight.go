package cli

import (
	"context"
	"fmt"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/hostprep"
	"github.com/microvm-host/microvm/internal/preflight"
)

// preflightVerb is the hidden verb that runs the pre-start check's probe
// in a child process with the VM user's credentials (preflight.AsUser).
const preflightVerb = "preflight-probe"

func newPreflightProbeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    preflightVerb,
		Short:  "Try, as the calling user, the checks given as JSON on stdin (used by run)",
		Hidden: true,
		Args:   args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return preflight.Serve(e.stdin, e.stdout)
		},
	}
}

// checkAccess refuses to run a runner whose hypervisor could not open its
// kernel, initrd, volume images or 9p shares as the VM user (package
// preflight), before any host preparation. Root checks through a child
// with the VM user's credentials, so that it follows none of the paths
// that user controls; a caller that is the VM user (a user running their
// own VMs, or VMs run as root) checks in-process. A check that cannot run
// (the VM user cannot execute this binary, say) is a warning: the
// hypervisor will tell.
func checkAccess(ctx context.Context, e *env, vmDir, runnerDir string, id hostprep.Identity) error {
	checks, err := preflight.ForRunner(runnerDir, vmDir)
	if err != nil || len(checks) == 0 {
		return err
	}
	u := preflight.User{Name: id.User, Group: id.Group, UID: uint32(id.UID), GID: uint32(id.GID), Groups: id.Groups}
	if !id.Switch || id.UID == 0 {
		return preflight.Explain(preflight.Probe(checks), u)
	}
	cred := &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	findings, err := preflight.AsUser(ctx, e.builder.Microvm, []string{preflightVerb}, cred, checks)
	if err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: could not check what the VM user can open: %v\n", err)
		return nil
	}
	return preflight.Explain(findings, u)
}
