package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/console"
	"github.com/microvm-host/microvm/internal/logfile"
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
		Short: "Show a VM's console log",
		Long: `Show the console log of a VM run with microvm run --monitor: the
last N lines (-n, default all of the current file), and with -f keep
following it, across log rotations, until interrupted.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if lines < 0 {
				return usageError("-n %d: expected a number of lines, 0 or more (see %s --help)", lines, cmd.CommandPath())
			}
			if err := state.CheckName(a[0]); err != nil {
				return usageError("%v", err)
			}
			d, err := e.state()
			if err != nil {
				return err
			}
			path := d.LogPath(a[0])
			fi, err := os.Stat(path)
			if err != nil {
				return fmt.Errorf("logs of %q: %w", a[0], err)
			}
			// The size is taken before the tail, so following starts at
			// or before its end: nothing is lost, at worst a line shown
			// twice.
			b, err := logfile.Tail(path, lines)
			if err != nil {
				return err
			}
			e.stdout.Write(b)
			if !follow {
				return nil
			}
			err = logfile.Follow(cmd.Context(), path, fi.Size(), e.stdout)
			if errors.Is(err, cmd.Context().Err()) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep following the log")
	cmd.Flags().IntVarP(&lines, "lines", "n", 0, "show only the last N lines (0: the whole current file)")
	return cmd
}
