package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/microvm-host/microvm/internal/guest/ociinit"
	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// earlyExit is how soon a failing hypervisor most likely never ran the
// guest at all: its own complaint (a file it could not open, an option it
// does not know) says why, and it is easily lost in the terminal.
const earlyExit = 5 * time.Second

// reportExit records how a run ended (recordExit) and, when the
// hypervisor failed, says so. With --monitor its console went to a log
// nobody watches, so its last lines are printed; in the foreground they
// are on the terminal already, and a quick failure is pointed out.
// Errors other than the hypervisor's exit status are printed by main.
func reportExit(e *env, name string, mon *monitor, runErr error, end control.Ending, ran time.Duration) {
	var tail []string
	var ee exitError
	failed := errors.As(runErr, &ee) && ee.code != 0
	if failed && mon != nil {
		tail = mon.tail()
	}
	rec := recordExit(e, name, mon, runErr, end, tail)
	if mon == nil && end.Why != "" && !failed {
		// The terminal saw the console, not why it ended.
		fmt.Fprintf(e.stderr, "microvm: %s: %s\n", name, supervisor.ExitOutcome(rec, true))
	}
	if rec.Process != nil {
		fmt.Fprintf(e.stderr, "microvm: the image's process in %s exited with status %d\n", name, *rec.Process)
	}
	if !failed {
		return
	}
	after := ran.Round(100 * time.Millisecond)
	switch {
	case mon != nil && len(tail) > 0:
		fmt.Fprintf(e.stderr, "microvm: the hypervisor of %s exited with status %d after %s; its last output (all of it: microvm logs %s):\n", name, ee.code, after, name)
		for _, l := range tail {
			fmt.Fprintf(e.stderr, "  %s\n", printable.Text(l))
		}
	case mon != nil:
		fmt.Fprintf(e.stderr, "microvm: the hypervisor of %s exited with status %d after %s, without any output\n", name, ee.code, after)
	case ran < earlyExit:
		fmt.Fprintf(e.stderr, "microvm: the hypervisor of %s exited with status %d right after it started (%s); its messages are above\n", name, ee.code, after)
	}
}

// recordExit writes the exit record (supervisor.ExitFile): the daemon,
// which may not be the monitor's parent any more, learns from it how a
// monitored run ended, and status shows the last exit of any run. A
// monitored run records also a start that failed, so that the daemon can
// say why. A foreground run that cannot write the runtime directory (a
// user running their own VMs) goes unrecorded, silently: the terminal
// showed it all.
func recordExit(e *env, name string, mon *monitor, runErr error, end control.Ending, tail []string) supervisor.ExitRecord {
	rec := supervisor.ExitRecord{Code: ExitCode(runErr), Ending: end.Why, Reason: end.Detail, Tail: tail}
	if code, ok := processExit(mon, runErr); ok {
		rec.Process = &code
	}
	var ee exitError
	if runErr != nil && !errors.As(runErr, &ee) {
		rec.Error = runErr.Error()
	}
	runtime := state.RuntimeDir()
	err := os.MkdirAll(runtime, 0o700)
	if err == nil {
		err = supervisor.WriteExit(runtime, name, rec)
	}
	if err != nil && mon != nil {
		fmt.Fprintf(e.stderr, "microvm: recording the exit of %s: %v\n", name, err)
	}
	return rec
}

// processExit is the exit status an image VM's init reported on the
// console of a monitored run that ended with the guest's power-off.
func processExit(mon *monitor, runErr error) (int, bool) {
	if mon == nil || ExitCode(runErr) != 0 {
		return 0, false
	}
	return ociinit.ExitStatus(mon.tail())
}
