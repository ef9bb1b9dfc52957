package cli

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/state"
)

// newHostRecordExitCmd is microvm@'s ExecStopPost=: it keeps how the
// hypervisor ended, which systemd passes in the environment and forgets
// once it unloads the inactive unit, for status.
func newHostRecordExitCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "record-exit NAME",
		Short: "Record how the VM's hypervisor ended (microvm@'s ExecStopPost=, from $EXIT_CODE, $EXIT_STATUS, $SERVICE_RESULT)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := state.CheckName(a[0]); err != nil {
				return usageError("%v", err)
			}
			return manager.WriteUnitExit(state.RuntimeDir(), a[0], manager.UnitExit{
				Code:   os.Getenv("EXIT_CODE"),
				Status: os.Getenv("EXIT_STATUS"),
				Result: os.Getenv("SERVICE_RESULT"),
				Time:   time.Now().UTC(),
			})
		},
	}
}
