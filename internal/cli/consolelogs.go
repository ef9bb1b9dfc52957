package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/console"
	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/state"
)

func newConsoleCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "console NAME",
		Short: "Attach to a VM's serial console (detach with Ctrl-])",
		Long: `Attach this terminal to the serial console of a VM run with
microvm run --monitor. The last output is shown first; Ctrl-] detaches
without stopping the VM. Several consoles may be attached at once.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := state.CheckName(a[0]); err != nil {
				return usageError("%v", err)
			}
			sock := state.ConsoleSocket(a[0])
			if _, err := os.Stat(sock); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("VM %q has no console at %s: is it running with --monitor?", a[0], sock)
			}
			in, restore := e.stdin, func() {}
			if f, ok := e.stdin.(*os.File); ok {
				var err error
				if restore, err = console.RawTerminal(f); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "microvm: attached to %s; Ctrl-] detaches\r\n", a[0])
			}
			err := console.Attach(cmd.Context(), sock, in, e.stdout)
			restore()
			if errors.Is(err, context.Canceled) {
				return nil // interrupted: a detach, the VM runs on
			}
			return err
		},
	}
}

func newLogsCmd(e *env) *cobra.Command {
	var follow bool
	var lines int
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [-n N]",
		Short: "Show a VM's console log (under systemd: the journal of its units)",
		Long: `Show the console log of a VM run with microvm run --monitor (as the
daemon runs every VM): the last N lines (-n, default all of the current
file), and with -f keep following it, across log rotations, until
interrupted. A VM systemd manages logs to the journal: then this is
journalctl for microvm@NAME and its helper units (set-booted, taps,
macvtaps, PCI devices, virtiofsd), with the same -n and -f.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if lines < 0 {
				return usageError("-n %d: expected a number of lines, 0 or more (see %s --help)", lines, cmd.CommandPath())
			}
			m, done, err := e.managerOf(cmd.Context(), "logs of", a[0])
			if err != nil {
				return err
			}
			defer done()
			return m.Logs(cmd.Context(), a[0], manager.LogOptions{Lines: lines, Follow: follow}, e.stdout)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep following the log")
	cmd.Flags().IntVarP(&lines, "lines", "n", 0, "show only the last N lines (0: the whole current file)")
	return cmd
}
