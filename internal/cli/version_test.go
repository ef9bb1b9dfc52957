package cli

import (
	"bytes"
	"context"
	"runtime"
	"testing"
)

// TestVersionStamped checks that the version the release build stamps in
// (-X …/internal/cli.buildVersion=…) is what both `microvm version` and
// `microvm --version` print. version.txtar covers an unstamped build.
func TestVersionStamped(t *testing.T) {
	old := buildVersion
	buildVersion = "v1.2.3-4-gabcdef0"
	t.Cleanup(func() { buildVersion = old })
	want := "microvm v1.2.3-4-gabcdef0 (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if err := Run(context.Background(), args, nil, &out, &errOut); err != nil {
			t.Fatalf("microvm %v: %v\n%s", args, err, errOut.String())
		}
		if out.String() != want {
			t.Errorf("microvm %v printed %q, want %q", args, out.String(), want)
		}
	}
}
