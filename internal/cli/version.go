package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion is the release this binary was built from. Release builds
// (make release, make package) stamp it with the linker:
//
//	-ldflags "-X github.com/microvm-host/microvm/internal/cli.buildVersion=$(git describe --tags --always --dirty)"
//
// A plain `go build` leaves it empty, and Version falls back to what the
// go command recorded.
var buildVersion string

// Version is this binary's version: the stamped one, else the module
// version the go command recorded (a `go install …@v1.2.3`), else
// "devel".
func Version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// versionLine is what `microvm version` and `microvm --version` print:
// the version, the Go release that built it, and the platform.
func versionLine() string {
	return fmt.Sprintf("microvm %s (%s, %s/%s)\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print microvm's version (also: microvm --version)",
		Args:  args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			e.printf("%s", versionLine())
			return nil
		},
	}
}
