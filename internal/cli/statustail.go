package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// lastExitCell is a status's last exit for the table: its first line, the
// rest (a refusal names every problem on a line of its own) below it.
func lastExitCell(s supervisor.Status) string {
	first, rest, more := strings.Cut(s.LastExit, "\n")
	if more && rest != "" {
		return printable.Text(strings.TrimSuffix(first, ":")) + " (see below)"
	}
	return printable.Text(first)
}

// printDetails prints, below status's table, what did not fit in it for
// each VM that is not running: the rest of a last exit of several lines,
// and the console's last lines when the last run failed, which usually
// say why a VM did not start. Both come from the hypervisor, the guest or
// the state directory, so they are escaped.
func printDetails(w io.Writer, sts []supervisor.Status) error {
	var b strings.Builder
	for _, s := range sts {
		if s.State == supervisor.Running {
			continue
		}
		if _, rest, more := strings.Cut(s.LastExit, "\n"); more && rest != "" {
			fmt.Fprintf(&b, "\n%s: %s\n", s.Name, printable.Text(s.LastExit[:len(s.LastExit)-len(rest)-1]))
			for _, l := range strings.Split(rest, "\n") {
				b.WriteString(printable.Text(l) + "\n")
			}
		}
		if len(s.Tail) > 0 {
			fmt.Fprintf(&b, "\n%s: last output (microvm logs %s):\n", s.Name, s.Name)
			for _, l := range s.Tail {
				b.WriteString("  " + printable.Text(l) + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
