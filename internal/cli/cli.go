// Package cli is the microvm command: microvm.nix's short forms and the
// long verbs, one file per verb.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// errUsage marks errors in how the command was called.
var errUsage = errors.New("usage")

// usageError is an error in how the command was called (exit 2).
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// exitError carries an exit code without a message, e.g. the hypervisor's
// own exit status from run, or a failure that was already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errUsage):
		return ExitUsage
	}
	return ExitFailure
}

// Message is what main prints for err; "" when nothing should be printed.
// Errors quote paths and link targets read from the state directory, which
// the VM user can write: every line is escaped (printable.Text), so none
// can carry an escape sequence to the terminal.
func Message(err error) string {
	var ee exitError
	if err == nil || errors.As(err, &ee) {
		return ""
	}
	lines := strings.Split(strings.TrimPrefix(err.Error(), errUsage.Error()+": "), "\n")
	for i, l := range lines {
		lines[i] = printable.Text(l)
	}
	return "microvm: " + strings.Join(lines, "\n")
}

// env is what every verb needs: the streams, the state directory and the
// way runners are built. Verbs get it from their constructor, never from
// package-level variables.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stateRoot      string
	hostConfig     string
	builder        *source.Builder
	lockTimeout    time.Duration
	cfg            *hostconfig.Config // loaded on first use
}

// state opens the state directory; waiting for a VM's lock is reported on
// stderr and bounded by --lock-timeout.
func (e *env) state() (*state.Dir, error) {
	d, err := state.Open(e.stateRoot)
	if err != nil {
		return nil, err
	}
	d.LockTimeout = e.lockTimeout
	d.Waiting = func(msg string) { fmt.Fprintf(e.stderr, "microvm: %s (Ctrl-C to give up)\n", msg) }
	return d, nil
}

// color reports whether stdout gets ANSI colours: only on a terminal, and
// never with NO_COLOR set (https://no-color.org).
func (e *env) color() bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := e.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.stdout, format, args...) }

// Main runs the command as a process does: interrupts cancel the context
// (so commands stop at a safe point and clean up what they staged), the
// error is printed, and the exit code returned.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Run(ctx, args, stdin, stdout, stderr)
	if msg := Message(err); msg != "" {
		fmt.Fprintln(stderr, msg)
	}
	return ExitCode(err)
}

// Run runs the microvm command with args (without the program name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	args, err := translateLegacy(args, stderr)
	if err != nil {
		return err
	}
	root := newRootCmd(&env{stdin: stdin, stdout: stdout, stderr: stderr, builder: source.NewBuilder(stderr)})
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "microvm",
		Short: "Run MicroVM runner packages as supervised VMs",
		Long: `microvm runs MicroVM runner packages (microvm.nix's convention) on any Linux host.

microvm.nix's short forms keep working:
  microvm -c NAME [-f SOURCE]   create
  microvm -u NAME... [-R]       update (and restart)
  microvm -r NAME               run in the foreground
  microvm -l                    list`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// cobra checks required flags only after this hook, and
			// returns a plain error (exit 1): check them as usage errors.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return cmd.FlagErrorFunc()(cmd, err)
			}
			if e.stateRoot == "" {
				e.stateRoot = os.Getenv(state.EnvRoot)
			}
			if e.stateRoot == "" {
				e.stateRoot = state.DefaultRoot
			}
			if e.lockTimeout <= 0 {
				return usageError("--lock-timeout %s: expected a positive duration like 10m", e.lockTimeout)
			}
			return nil
		},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError("unknown verb %q; see microvm --help", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError("no verb given; see microvm --help")
		},
	}
	root.PersistentFlags().StringVar(&e.stateRoot, "state-dir", "", "state directory (default $"+state.EnvRoot+" or "+state.DefaultRoot+")")
	root.PersistentFlags().StringVar(&e.hostConfig, "host-config", "", "host configuration (default $"+hostconfig.EnvPath+" or "+hostconfig.DefaultPath+")")
	root.PersistentFlags().DurationVar(&e.lockTimeout, "lock-timeout", state.DefaultLockTimeout, "how long to wait for a VM that another command works on")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError("%v (see %s --help)", err, cmd.CommandPath())
	})
	root.CompletionOptions.DisableDefaultCmd = true
	// --version, as `microvm version`; cobra adds the flag when Version
	// is set.
	root.Version = Version()
	root.SetVersionTemplate(versionLine())
	root.AddCommand(
		newCreateCmd(e),
		newUpdateCmd(e),
		newApplyCmd(e),
		newListCmd(e),
		newRunCmd(e),
		newRemoveCmd(e),
		newStopCmd(e),
		newStartCmd(e, "start"),
		newStartCmd(e, "restart"),
		newStatusCmd(e),
		newEventsCmd(e),
		newTopCmd(e),
		newDaemonCmd(e),
		newKubeletCmd(e),
		newMetricsCmd(e),
		newConsoleCmd(e),
		newLogsCmd(e),
		newBuildCmd(e),
		newGuestCmd(e),
		newRunnerCmd(e),
		newHostCmd(e),
		newSystemdCmd(e),
		newPreflightProbeCmd(e),
		newVersionCmd(e),
	)
	return root
}

// args wraps a cobra positional-argument check so that its failure is a
// usage error (exit 2).
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError("%v (see %s --help)", err, cmd.CommandPath())
		}
		return nil
	}
}

// lockVM opens the state directory and takes the lock of the existing VM
// name, for a verb that changes it ("updating", "removing": the error
// context).
func lockVM(ctx context.Context, e *env, name, doing string) (*state.Dir, func(), error) {
	if err := state.CheckName(name); err != nil {
		return nil, nil, usageError("%v", err)
	}
	d, err := e.state()
	if err != nil {
		return nil, nil, err
	}
	unlock, err := d.Lock(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if !d.Exists(name) {
		unlock()
		return nil, nil, fmt.Errorf("%s %q: %w", doing, name, state.ErrNotExist)
	}
	return d, unlock, nil
}
