package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// printTails prints, below status's table, the console's last lines of
// each VM that is not running and whose last run failed: why a VM did not
// start is usually the hypervisor's last word. The lines are the guest's
// and the hypervisor's bytes, so they are escaped.
func printTails(w io.Writer, sts []supervisor.Status) error {
	var b strings.Builder
	for _, s := range sts {
		if len(s.Tail) == 0 || s.State == supervisor.Running {
			continue
		}
		fmt.Fprintf(&b, "\n%s: last output (microvm logs %s):\n", s.Name, s.Name)
		for _, l := range s.Tail {
			b.WriteString("  " + printable.Text(l) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
