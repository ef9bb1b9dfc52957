package kubetest

import (
	"os"
	"testing"

	"github.com/microvm-host/microvm/internal/cli"
)

// envMicrovm makes the test binary the microvm command: the hosts'
// daemons and providers are this binary, and so are the monitors a
// daemon spawns as its own executable.
const envMicrovm = "MICROVM_KUBETEST_AS_MICROVM"

func TestMain(m *testing.M) {
	if os.Getenv(envMicrovm) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
