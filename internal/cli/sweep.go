package cli

import (
	"context"
	"fmt"
)

// sweep removes what killed commands left in the state directory and
// nobody uses any more (see state.Dir.Sweep). Every verb that writes the
// state directory calls it first; it never waits, and a failure only
// warns: the verb's own work does not depend on it.
func sweep(ctx context.Context, e *env) {
	d, err := e.state()
	if err == nil {
		err = d.Sweep(ctx)
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(e.stderr, "microvm: warning: cleaning up after killed commands: %v\n", err)
	}
}
