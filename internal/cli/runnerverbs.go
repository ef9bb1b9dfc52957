package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd.AddCommand(newRunnerExecCmd(), newRunnerVolumeCmd(e), newRunnerModulesCmd(e), newRunnerShutdownCmd(e), newRunnerBalloonCmd(e))
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
	var b volume.FromBase
	var format string
	var existing bool
	cmd := &cobra.Command{
		Use:   "volume --image IMG [--format raw|qcow2] (--size MIB --fs TYPE [--label L] [--mkfs-arg A]... | --base BASE [--convert] [--size MIB] | --existing)",
		Short: "Create a volume image unless it exists (never resizes or reformats), then check its format",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != volume.Raw && format != volume.Qcow2 {
				return usageError("--format %q: expected raw or qcow2", format)
			}
			fl := cmd.Flags()
			switch {
			case existing && (b.Base != "" || fl.Changed("size")):
				return usageError("--existing: only checks the image; leave out --base and --size")
			case b.Base != "":
				b.Image, b.SizeMiB = v.Image, v.SizeMiB
				created, err := volume.EnsureFromBase(cmd.Context(), b)
				if err != nil {
					return err
				}
				if created {
					how := "a qcow2 overlay"
					if b.Convert {
						how = "a raw copy"
					}
					fmt.Fprintf(e.stderr, "microvm: created volume %s (%s of %s)\n", v.Image, how, b.Base)
				}
			case !existing:
				if !fl.Changed("size") {
					return usageError("--size: required to create an image with mkfs")
				}
				created, err := volume.Ensure(cmd.Context(), v)
				if err != nil {
					return err
				}
				if created {
					fmt.Fprintf(e.stderr, "microvm: created volume %s (%d MiB, %s)\n", v.Image, v.SizeMiB, v.FsType)
				}
			}
			_, err := volume.CheckFormat(v.Image, format)
			return err
		},
	}
	cmd.Flags().StringVar(&v.Image, "image", "", "image path")
	cmd.Flags().StringVar(&format, "format", volume.Raw, "the format the hypervisor is told: raw or qcow2; the image's header must agree")
	cmd.Flags().Var((*sizeFlag)(&v.SizeMiB), "size", "size in MiB (with --base: grow the image beyond the base's size)")
	cmd.Flags().StringVar(&v.FsType, "fs", "ext4", "file system")
	cmd.Flags().StringVar(&v.Label, "label", "", "file system label")
	cmd.Flags().StringArrayVar(&v.MkfsArgs, "mkfs-arg", nil, "extra mkfs argument (repeatable)")
	cmd.Flags().StringVar(&b.Base, "base", "", "make the image from this base image (absolute): a qcow2 overlay")
	cmd.Flags().BoolVar(&b.Convert, "convert", false, "with --base: a raw copy of the base instead of an overlay")
	cmd.Flags().BoolVar(&existing, "existing", false, "do not create the image, only check its format")
	cmd.MarkFlagRequired("image")
	return cmd
}

// newRunnerModulesCmd makes the image of the host's kernel modules that a
// spec's hostModules attaches.
func newRunnerModulesCmd(e *env) *cobra.Command {
	m := volume.Modules{ModulesRoot: "/lib/modules"}
	cmd := &cobra.Command{
		Use:   "modules --image IMG --release RELEASE [--modules-root DIR]",
		Short: "Make the read-only image of the host's modules for a kernel release, unless it is up to date",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			created, err := volume.EnsureModules(cmd.Context(), m)
			if created {
				fmt.Fprintf(e.stderr, "microvm: made %s from %s\n", m.Image, filepath.Join(m.ModulesRoot, m.Release))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&m.Image, "image", "", "image path")
	cmd.Flags().StringVar(&m.Release, "release", "", "kernel release (uname -r in the guest)")
	cmd.Flags().StringVar(&m.ModulesRoot, "modules-root", m.ModulesRoot, "where the host keeps its modules")
	cmd.MarkFlagRequired("image")
	cmd.MarkFlagRequired("release")
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
