package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/microvm-host/microvm/internal/volume"
)

// newRunnerCmd groups the verbs that scripts of generated runner packages
// call. They are hidden: users call the scripts, not these.
func newRunnerCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "runner",
		Short:  "Helpers called by generated runner packages",
		Hidden: true,
	}
	cmd.AddCommand(newRunnerExecCmd(), newRunnerVolumeCmd(e), newRunnerShutdownCmd(e), newRunnerBalloonCmd(e))
	return cmd
}

// newRunnerExecCmd replaces itself with the hypervisor under another
// argv[0] (microvm.nix's `exec -a microvm@NAME`, which POSIX sh lacks), so
// ps and top show which VM a process is.
func newRunnerExecCmd() *cobra.Command {
	var argv0 string
	var ensureTTY bool
	cmd := &cobra.Command{
		Use:   "exec [--argv0 NAME] [--ensure-tty] -- PROGRAM [ARGS...]",
		Short: "Exec PROGRAM with argv[0] set to NAME",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			path, err := exec.LookPath(a[0])
			if err != nil {
				return err
			}
			argv := append([]string{a[0]}, a[1:]...)
			if argv0 != "" {
				argv[0] = argv0
			}
			if ensureTTY && !term.IsTerminal(int(os.Stdin.Fd())) {
				return runOnPty(path, argv, os.Stdout) // issue 14
			}
			err = syscall.Exec(path, argv, os.Environ())
			return fmt.Errorf("exec %s: %w", path, err)
		},
	}
	cmd.Flags().StringVar(&argv0, "argv0", "", "argv[0] for the program")
	cmd.Flags().BoolVar(&ensureTTY, "ensure-tty", false, "when stdin is not a terminal, run the program on a pty of its own and copy its output to stdout")
	return cmd
}

func newRunnerVolumeCmd(e *env) *cobra.Command {
	var v volume.Spec
	cmd := &cobra.Command{
		Use:   "volume --image IMG --size MIB --fs TYPE [--label L] [--mkfs-arg A]...",
		Short: "Create a volume image unless it exists (never resizes or reformats)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			created, err := volume.Ensure(cmd.Context(), v)
			if created {
				fmt.Fprintf(e.stderr, "microvm: created volume %s (%d MiB, %s)\n", v.Image, v.SizeMiB, v.FsType)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&v.Image, "image", "", "image path")
	cmd.Flags().Var((*sizeFlag)(&v.SizeMiB), "size", "size in MiB")
	cmd.Flags().StringVar(&v.FsType, "fs", "ext4", "file system")
	cmd.Flags().StringVar(&v.Label, "label", "", "file system label")
	cmd.Flags().StringArrayVar(&v.MkfsArgs, "mkfs-arg", nil, "extra mkfs argument (repeatable)")
	cmd.MarkFlagRequired("image")
	cmd.MarkFlagRequired("size")
	return cmd
}

// sizeFlag is --size in MiB, refused as a usage error when it is no image
// size: 2^44 MiB and more used to wrap around in bytes.
type sizeFlag int

func (f *sizeFlag) String() string { return strconv.Itoa(int(*f)) }
func (f *sizeFlag) Type() string   { return "MiB" }
func (f *sizeFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("expected a whole number of MiB")
	}
	if err := volume.CheckSize(n); err != nil {
		return err
	}
	*f = sizeFlag(n)
	return nil
}
