package virtiofsd

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// DefaultCandidates are where Find looks: PATH first, then where the Rust
// virtiofsd (Fedora, Debian 13) and qemu's C one (Debian 12) are installed.
var DefaultCandidates = []string{"virtiofsd", "/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"}

// ErrNotFound is returned when no candidate is an executable virtiofsd.
var ErrNotFound = errors.New("virtiofsd not found (install the virtiofsd package)")

// detectTimeout bounds `virtiofsd --help`.
const detectTimeout = 5 * time.Second

// Find returns the first candidate (default DefaultCandidates) that is an
// executable virtiofsd, with its flavor. Names without a slash are looked
// up in PATH.
func Find(candidates ...string) (path string, flavor Flavor, err error) {
	if len(candidates) == 0 {
		candidates = DefaultCandidates
	}
	var errs []error
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		f, err := Detect(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return p, f, nil
	}
	return "", 0, fmt.Errorf("finding virtiofsd in %q: %w", candidates, errors.Join(append([]error{ErrNotFound}, errs...)...))
}

// resolve is Find for "" and Detect otherwise.
func resolve(binary string) (string, Flavor, error) {
	if binary == "" {
		return Find()
	}
	f, err := Detect(binary)
	return binary, f, err
}

// Detect tells the flavor of a virtiofsd from its --help: only the Rust
// one has --shared-dir, only the C one documents "-o source=".
func Detect(binary string) (Flavor, error) {
	ctx, cancel := context.WithTimeout(context.Background(), detectTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--help")
	out, err := cmd.CombinedOutput()
	help := string(out)
	switch {
	case strings.Contains(help, "--shared-dir"):
		return Rust, nil
	case strings.Contains(help, "source="):
		return QEMU, nil
	case err != nil:
		return 0, fmt.Errorf("detecting virtiofsd flavor: %v: %w: %s", cmd.Args, err, firstLine(help))
	}
	return 0, fmt.Errorf("detecting virtiofsd flavor: %v: unrecognised help output: %s", cmd.Args, firstLine(help))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
