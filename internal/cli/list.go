package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

// VM statuses, in microvm.nix's order of precedence.
const (
	statusOutdated  = "outdated"   // the source would build another version
	statusStale     = "stale"      // booted differs from current: restart to boot it
	statusCurrent   = "current"    // booted and current
	statusNotBooted = "not-booted" // current, not booted
	statusBroken    = "broken"     // the entry is not a usable VM (see problems)
)

// listEntry is one VM in list's output (and its --json schema).
type listEntry struct {
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	Running         bool          `json:"running"`
	Booted          bool          `json:"booted"`
	Current         string        `json:"current,omitempty"`
	CurrentVersion  string        `json:"currentVersion,omitempty"`
	BootedVersion   string        `json:"bootedVersion,omitempty"`
	ExpectedVersion string        `json:"expectedVersion,omitempty"`
	Source          *state.Source `json:"source,omitempty"`
	Note            string        `json:"note,omitempty"` // why the expected version is unknown
	Problems        []string      `json:"problems,omitempty"`
	Ignored         []string      `json:"ignored,omitempty"` // records microvm did not write
}

func newListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List VMs and whether they run their newest version (-l)",
		Long: `List every VM of the state directory with its status:
  current      booted, and booted is what current and its source say
  not-booted   stopped (not booted); current is up to date
  stale        booted runs another version than current: restart it
  outdated     the recorded source would build another version: update it
  broken       the entry is not a usable VM; the problem is shown
Versions are the guest systems runners name (share/microvm/system), or the
runners themselves when they name none: a runner directory source is then
compared by content, and one holding more than ` + strconv.Itoa(state.MaxHashBytes>>30) + ` GiB of files or
` + strconv.Itoa(state.MaxHashEntries) + ` entries is not read but noted (runner packages hold scripts
and small files, never volumes). The name is green when the VM runs (a
microvm run process, or an active microvm@ unit under systemd),
yellow when it is booted but nothing runs (crashed), red otherwise.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := e.state()
			if err != nil {
				return err
			}
			vms, err := d.List()
			if err != nil {
				return err
			}
			entries := listEntries(cmd.Context(), e.builder, d, vms, e.checkSource, systemdRunning(cmd.Context(), e, d))
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			printList(e, entries, startVerb(cmd.Context(), d))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// listEntries computes every VM's status. Sources shared by several VMs
// are evaluated once.
//
// check vets a source before it is read (see env.checkSource): list runs
// as root and must not read what the VM user points a source at.
//
// systemd names the VMs whose microvm@ unit is active: they run, though
// without the process record `microvm run` writes.
func listEntries(ctx context.Context, b *source.Builder, d *state.Dir, vms []state.VM, check func(state.Source) error, systemd map[string]bool) []listEntry {
	entries := make([]listEntry, 0, len(vms))
	cache := map[expectKey]expectResult{}
	for i := range vms {
		le := listEntryOf(ctx, b, d, &vms[i], cache, check)
		le.Running = le.Running || systemd[le.Name]
		entries = append(entries, le)
	}
	return entries
}

// systemdRunning returns the VMs systemd runs for this state directory,
// with one D-Bus call for all of them (microvm.nix ran systemctl
// is-active per VM). list still works when systemd cannot be asked: it
// says so, and shows those VMs as booted but not running.
func systemdRunning(ctx context.Context, e *env, d *state.Dir) map[string]bool {
	h, err := manager.Open(ctx, d, manager.Options{Runtime: state.RuntimeDir()})
	if err == nil {
		defer h.Close()
		var running map[string]bool
		if running, err = h.Running(ctx); err == nil {
			return running
		}
	}
	fmt.Fprintf(e.stderr, "microvm: warning: %v; VMs systemd runs are shown as not running\n", err)
	return nil
}

type expectKey struct {
	src        state.Source
	name       string
	current    string // spec sources compare against its build record
	withSystem bool
}

type expectResult struct {
	exp source.Expected
	err error
}

func listEntryOf(ctx context.Context, b *source.Builder, d *state.Dir, vm *state.VM, cache map[expectKey]expectResult, check func(state.Source) error) listEntry {
	le := listEntry{
		Name:     vm.Name,
		Running:  vm.Running,
		Booted:   vm.Booted != "",
		Current:  vm.Current,
		Source:   vm.Source,
		Problems: vm.Problems,
		Ignored:  vm.Ignored,
	}
	if vm.Broken() {
		le.Status = statusBroken
		return le
	}
	le.CurrentVersion = version(vm.CurrentSystem, vm.Current)
	if le.Booted {
		le.BootedVersion = version(vm.BootedSystem, vm.Booted)
	}

	outdated := false
	switch {
	case vm.Toplevel != "":
		le.ExpectedVersion = vm.Toplevel
		outdated = vm.CurrentSystem != vm.Toplevel
	case vm.Source != nil:
		k := expectKey{*vm.Source, vm.Name, "", vm.CurrentSystem != ""}
		if vm.Source.Kind == state.SourceSpec {
			k.current = vm.Current
		}
		r, ok := cache[k]
		if !ok {
			if r.err = check(*vm.Source); r.err == nil {
				r.exp, r.err = b.Expect(ctx, *vm.Source, vm.Name, vm.Current, k.withSystem)
			}
			cache[k] = r
		}
		switch {
		case r.err != nil:
			le.Note = r.err.Error()
		case r.exp.System != "":
			le.ExpectedVersion = r.exp.System
			outdated = r.exp.System != vm.CurrentSystem
		case r.exp.Hash != "":
			// The source's content hash names the store entry it
			// would be imported as.
			le.ExpectedVersion = d.StorePath(r.exp.Hash)
			outdated = le.ExpectedVersion != vm.Current
		default:
			le.ExpectedVersion = r.exp.Runner
			outdated = r.exp.Runner != vm.Current
		}
	default:
		le.Note = "no source recorded"
	}

	switch {
	case outdated:
		le.Status = statusOutdated
	case le.Booted && le.BootedVersion != le.CurrentVersion:
		le.Status = statusStale
	case le.Booted:
		le.Status = statusCurrent
	default:
		le.Status = statusNotBooted
	}
	return le
}

// version is what identifies a runner: the guest system it names, or
// itself.
func version(system, runner string) string {
	if system != "" {
		return system
	}
	return runner
}

// ANSI codes, as microvm.nix prints them.
const (
	ansiReset      = "\033[0m"
	ansiRed        = "\033[0;31m"
	ansiGreen      = "\033[0;32m"
	ansiBoldRed    = "\033[1;31m"
	ansiBoldYellow = "\033[1;33m"
	ansiBoldGreen  = "\033[1;32m"
	ansiBoldCyan   = "\033[1;36m"
)

// printList prints microvm.nix's list format: the name coloured by
// whether the VM runs, one status, and the command that fixes it. Names,
// versions and problems come from the state directory, where the VM user
// can write: they are printed through package printable, so no escape
// sequence in them reaches the terminal.
func printList(e *env, entries []listEntry, starter func(name string) string) {
	display := func(v string) string { return printable.String(display(v)) }
	c := func(code, s string) string { return s }
	if e.color() {
		c = func(code, s string) string { return code + s + ansiReset }
	}
	// A stopped VM is started the way VMs are managed here: through the
	// daemon or systemd when either runs, so that it is supervised, else
	// in the foreground. Asked once, for the first stopped VM: dialling
	// the daemon and asking systemctl are not free, and the installed
	// microvm@ template covers every name alike.
	for _, le := range entries {
		nameColor := ansiBoldRed
		switch {
		case le.Running:
			nameColor = ansiBoldGreen
		case le.Booted:
			nameColor = ansiBoldYellow
		}
		var b strings.Builder
		b.WriteString(c(nameColor, printable.String(le.Name)) + ": ")
		switch le.Status {
		case statusBroken:
			b.WriteString(c(ansiRed, "broken") + ": " + printable.Text(strings.Join(le.Problems, "; ")))
		case statusOutdated:
			b.WriteString(c(ansiRed, "outdated") + "(" + c(ansiRed, display(le.CurrentVersion)) + "), rebuild(" +
				c(ansiGreen, display(le.ExpectedVersion)) + ") and reboot: " + c(ansiBoldCyan, "microvm -Ru "+le.Name))
		case statusStale:
			b.WriteString(c(ansiRed, "stale") + "(" + c(ansiGreen, display(le.BootedVersion)) + "), reboot(" +
				c(ansiGreen, display(le.CurrentVersion)) + "): restart it")
		case statusCurrent:
			b.WriteString(c(ansiGreen, "current") + "(" + c(ansiGreen, display(le.BootedVersion)) + ")")
		case statusNotBooted:
			b.WriteString(c(ansiGreen, "current") + "(" + c(ansiGreen, display(le.CurrentVersion)) + "), stopped: " +
				c(ansiBoldCyan, starter(le.Name)+" "+le.Name))
		}
		if le.Note != "" {
			b.WriteString(" (" + printable.Text(le.Note) + ")")
		}
		for _, why := range le.Ignored {
			b.WriteString(" (ignoring " + printable.Text(why) + ")")
		}
		b.WriteString("\n")
		e.stdout.Write([]byte(b.String()))
	}
}

// display shortens a version for humans: Nix store paths lose their hash
// (as microvm.nix shows them), state store entries become "runner HASH".
func display(v string) string {
	base := filepath.Base(v)
	switch {
	case state.InNixStore(v):
		if i := strings.IndexByte(base, '-'); i >= 0 {
			return base[i+1:]
		}
	case strings.Contains(v, "/"+state.StoreDir+"/"):
		if len(base) > 12 {
			base = base[:12]
		}
		return "runner " + base
	}
	return v
}

// startVerb says how a stopped VM is started here: `microvm start` when
// a daemon or systemd would supervise it (package manager decides), else
// `microvm run` in the foreground. Asked once, for the first stopped VM:
// dialling the daemon and asking systemd are not free, and the installed
// microvm@ template covers every name alike.
func startVerb(ctx context.Context, d *state.Dir) func(name string) string {
	var verb string
	return func(name string) string {
		if verb == "" {
			verb = "microvm run"
			if h, err := manager.Open(ctx, d, manager.Options{Runtime: state.RuntimeDir()}); err == nil {
				if m, err := h.For(ctx, name); err == nil && m.Kind() != manager.None {
					verb = "microvm start"
				}
				h.Close()
			}
		}
		return verb
	}
}
