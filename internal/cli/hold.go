package cli

import (
	"fmt"
	"os"
	"os/exec"
)

// holdScript runs in the process that becomes the hypervisor: it waits
// for one byte on fd 3 before it execs bin/microvm-run ($0) in its place,
// and gives up without running it when the pipe closes unwritten (we died
// before recording). exec keeps the pid and start time, so the record
// written meanwhile names the hypervisor. Nothing in it comes from a file:
// the runner's path and arguments are passed as arguments.
const holdScript = `read -r _ <&3 && exec 3<&- "$0" "$@"`

// holdUntilRecorded makes cmd wait, once started, until release is
// called: the process record is written before the hypervisor can run,
// so nobody — not even a reader that takes no lock — sees a running VM
// without its record (a remove --force in that window would have deleted
// a running VM). abort ends the wait without running it. Call release or
// abort after cmd.Start, and abort when Start failed.
func holdUntilRecorded(cmd *exec.Cmd) (release, abort func(), err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("holding %s until it is recorded: %w", cmd.Path, err)
	}
	if len(cmd.ExtraFiles) > 0 {
		r.Close()
		w.Close()
		return nil, nil, fmt.Errorf("holding %s: fd 3 is taken", cmd.Path)
	}
	cmd.ExtraFiles = []*os.File{r}
	cmd.Args = append([]string{"/bin/sh", "-c", holdScript, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
	done := func(b []byte) func() {
		return func() {
			if r != nil {
				r.Close() // the child has its own copy
				r = nil
			}
			if w != nil {
				w.Write(b)
				w.Close()
				w = nil
			}
		}
	}
	return done([]byte("\n")), done(nil), nil
}
