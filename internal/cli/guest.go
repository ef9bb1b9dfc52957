package cli

import (
	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/guest"
)

func newGuestCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guest",
		Short: "Build the demo/test guest",
	}
	var out, version string
	initramfs := &cobra.Command{
		Use:   "initramfs -o FILE [--kernel-version V]",
		Short: "Build a busybox initramfs that boots with the host's kernel",
		Long: `Build a gzip initramfs from the host's static busybox and the kernel's
virtio modules. Its init mounts the shares and volumes named on the kernel
command line (microvm.share=TAG:MOUNTPOINT:PROTO,
microvm.volume=DEV:MOUNTPOINT[:FSTYPE]), brings up network interfaces,
prints "` + guest.ReadyLine + `" and powers off on Ctrl-Alt-Del or the
ACPI power button. --kernel-version defaults to the newest kernel in /boot
with modules.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if version == "" {
				var err error
				if _, version, err = guest.DefaultKernel(); err != nil {
					return err
				}
			}
			f, err := renameio.NewPendingFile(out)
			if err != nil {
				return err
			}
			defer f.Cleanup()
			if err := guest.BuildInitramfs(f, guest.Options{KernelVersion: version}); err != nil {
				return err
			}
			// The VM user, not only root, must be able to read it.
			if err := f.Chmod(0o644); err != nil {
				return err
			}
			if err := f.CloseAtomicallyReplace(); err != nil {
				return err
			}
			e.printf("Wrote %s for kernel %s\n", out, version)
			return nil
		},
	}
	initramfs.Flags().StringVarP(&out, "out", "o", "", "output file")
	initramfs.Flags().StringVar(&version, "kernel-version", "", "kernel whose modules to include")
	initramfs.MarkFlagRequired("out")
	cmd.AddCommand(initramfs)
	return cmd
}
