package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/apply"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/state"
)

func newApplyCmd(e *env) *cobra.Command {
	var dryRun bool
	var config string
	cmd := &cobra.Command{
		Use:   "apply [--dry-run] [--config FILE]",
		Short: "Make the VMs what host.toml declares: create, update, restart, remove",
		Long: `Compare the VMs host.toml declares ([vm.NAME] with a source) with the
state directory, print the plan, one line per VM with its reason, and carry
it out:
  create           declared and missing (then started, with autostart)
  update           the source builds something else than current, or
                   host.toml names another source (then restarted if it
                   runs another runner, with restartIfChanged)
  restart          it runs another runner than current, with restartIfChanged
  stop and remove  created by apply and no longer declared; its data
                   (volumes, share sources in its directory) is kept in
                   STATE/` + state.RemovedDir + `/NAME-TIMESTAMP unless [vm.NAME]
                   purgeOnRemove = true
  keep             nothing to change
Only VMs apply created are ever changed: a VM made by hand (microvm create)
or by another tool is kept, declared or not. The whole file is validated
first; a file with errors changes nothing. Steps run through the daemon or
systemd, whichever manages the VM, autostartParallel at a time; a failed
step does not stop the others, and makes the exit status 1. Applying twice
does nothing the second time. The daemon applies at its start, on SIGHUP,
and with watchConfig = true whenever the file changes.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config != "" {
				// Sources relative to the file stay so for the
				// records, whatever the directory of a later update.
				abs, err := filepath.Abs(config)
				if err != nil {
					return usageError("--config %q: %v", config, err)
				}
				e.hostConfig = abs
			}
			return runApply(cmd.Context(), e, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().StringVar(&config, "config", "", "the host configuration to apply (default: --host-config's)")
	return cmd
}

func runApply(ctx context.Context, e *env, dryRun bool) error {
	// Without the file every VM apply created would count as no longer
	// declared: a mistyped path must not remove them all.
	if _, err := os.Stat(e.hostConfigPath()); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("host config %s does not exist; apply needs the file that declares the VMs (an empty file declares none, and removes the VMs apply created)", e.hostConfigPath())
	}
	cfg, err := e.loadHostConfig()
	if err != nil {
		return err
	}
	if !dryRun {
		sweep(ctx, e)
	}
	d, err := e.state()
	if err != nil {
		return err
	}
	vms, err := d.List()
	if err != nil {
		return err
	}
	plan := apply.Compute(ctx, cfg, vms, apply.World{Expect: e.builder, Check: e.checkSource, StorePath: d.StorePath})
	n := len(cfg.Declared())
	e.printf("Plan for %s (%d declared %s):\n", e.hostConfigPath(), n, plural(n, "VM", "VMs"))
	printLines(e, "", plan.String())
	if dryRun || plan.Changes() == 0 {
		for _, st := range plan.Steps {
			if st.Err != nil {
				return exitError{ExitFailure} // the plan says why
			}
		}
		return nil
	}
	h := &applyHost{e: e, cfg: cfg, out: map[string]*bytes.Buffer{}}
	results := apply.Execute(ctx, plan, h, cfg.AutostartParallel)
	for _, r := range results {
		switch {
		case r.Err != nil:
			first, rest, _ := strings.Cut(r.Err.Error(), "\n")
			e.printf("%s: %s: failed: %s\n", r.Name, r.Action, printable.Text(first))
			printLines(e, "    ", rest)
		case r.Note != "":
			e.printf("%s: %s: done; %s\n", r.Name, r.Action, printable.Text(r.Note))
		default:
			e.printf("%s: %s: done\n", r.Name, r.Action)
		}
		// What the step's verbs said, under it.
		printLines(e, "    ", h.output(r.Name))
	}
	e.printf("%s\n", apply.Summary(results))
	if len(apply.Failed(results)) > 0 {
		return exitError{ExitFailure} // the summary names them
	}
	return nil
}

// printLines prints text line by line, indented, each made safe for a
// terminal: plans and errors quote paths from the state directory.
func printLines(e *env, indent, text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if l != "" {
			e.printf("%s%s\n", indent, printable.Text(l))
		}
	}
}

// plural picks the word for n things.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
