package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/hostfacts"
)

func newBuildCmd(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "build SPEC [-o OUT]",
		Short: "Generate a runner package from a spec file",
		Long: `Generate the runner package for the VM spec file SPEC (TOML whose keys
mirror microvm.nix's microvm.* options; the VM is named after the file) and
write it to OUT (default ./result). OUT must not exist; it appears complete
or not at all.

For qemu, KVM is used only if a probe boot under KVM succeeds (--kvm auto);
a /dev/kvm that exists but hangs guests falls back to TCG. The probe result
is cached in ` + hostfacts.CacheDir() + `.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			path, err := filepath.Abs(a[0])
			if err != nil {
				return err
			}
			if err := e.builder.BuildSpec(cmd.Context(), path, out); err != nil {
				return err
			}
			e.printf("Wrote runner package %s\n", out)
			// issue 14: say which hypervisor release the runner was made for.
			if b, ok, err := generate.ReadBuild(out); err == nil && ok {
				for _, line := range b.Describe() {
					e.printf("%s\n", line)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "result", "where to write the runner package")
	addKVMFlag(cmd, e)
	return cmd
}

// addKVMFlag lets a verb that builds runners choose the KVM mode.
func addKVMFlag(cmd *cobra.Command, e *env) {
	cmd.Flags().Var(kvmFlag{e}, "kvm", fmt.Sprintf("use KVM: %s (probe), %s or %s", hostfacts.KVMAuto, hostfacts.KVMOn, hostfacts.KVMOff))
}

type kvmFlag struct{ e *env }

func (f kvmFlag) String() string {
	if f.e == nil || f.e.builder == nil {
		return hostfacts.KVMAuto
	}
	return f.e.builder.KVM
}
func (f kvmFlag) Type() string { return "mode" }
func (f kvmFlag) Set(v string) error {
	switch v {
	case hostfacts.KVMAuto, hostfacts.KVMOn, hostfacts.KVMOff:
		f.e.builder.KVM = v
		return nil
	}
	return fmt.Errorf("expected %s, %s or %s", hostfacts.KVMAuto, hostfacts.KVMOn, hostfacts.KVMOff)
}
