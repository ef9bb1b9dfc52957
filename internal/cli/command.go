package cli

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/source"
)

// Command is the command tree as users see it, for what is generated from
// it (man pages and shell completions, tools/package). It writes nowhere:
// run the command with Run or Main instead.
func Command() *cobra.Command {
	return newRootCmd(&env{
		stdin:   strings.NewReader(""),
		stdout:  io.Discard,
		stderr:  io.Discard,
		builder: source.NewBuilder(io.Discard),
	})
}
