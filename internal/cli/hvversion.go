package cli

import (
	"context"
	"fmt"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/hostfacts"
)

// checkInstalled refuses a generated runner whose hypervisor release is
// not installed (issue 14), and warns when it cannot tell or the installed
// one is newer than its generator knows.
func checkInstalled(ctx context.Context, e *env, runnerDir string) error {
	warning, err := generate.CheckInstalled(runnerDir, hostfacts.InstalledVersion(ctx))
	if warning != "" {
		fmt.Fprintf(e.stderr, "microvm: warning: %s\n", warning)
	}
	return err
}
