package hostfacts

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/hypervisor"
)

// versionTimeout bounds a hypervisor's version command: it prints a line
// and exits, so anything slower is broken or waiting for something.
const versionTimeout = 3 * time.Second

// versionFormat is how one hypervisor tells its version: the arguments
// that make it print it, and the first line it prints, with the version
// as the first group.
type versionFormat struct {
	args []string
	line *regexp.Regexp
}

// versionFormats are each hypervisor's, by generator name, from the
// upstream sources.
var versionFormats = map[string]versionFormat{
	// "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)"
	"qemu": {[]string{"--version"}, regexp.MustCompile(`^QEMU emulator version (\S+)`)},
	// "cloud-hypervisor v53.0-246-gae44c2971", or "v54.0.0" when built
	// outside git (cloud-hypervisor/build.rs: git describe, else
	// CARGO_PKG_VERSION; printed by cloud-hypervisor/src/main.rs).
	"cloud-hypervisor": {[]string{"--version"}, regexp.MustCompile(`^cloud-hypervisor v?(\S+)`)},
	// "Firecracker v1.16.0-dev" (src/firecracker/src/main.rs).
	"firecracker": {[]string{"--version"}, regexp.MustCompile(`^Firecracker v?(\S+)`)},
	// "crosvm 0.1.0" or "crosvm 0.1.0-PKG_VERSION": a subcommand, since
	// argh has no --version (src/main.rs, pkg_version).
	"crosvm": {[]string{"version"}, regexp.MustCompile(`^crosvm (\S+)`)},
	// "kvm tool 3.18.0", or git describe's tag with dots
	// (builtin-version.c, util/KVMTOOLS-VERSION-GEN).
	"kvmtool": {[]string{"version"}, regexp.MustCompile(`^kvm tool (\S+)`)},
	// "StratoVirt 2.4.0 commit-id abc123" (util/src/arg_parser.rs,
	// show_version; util/src/lib.rs, VERSION).
	"stratovirt": {[]string{"--version"}, regexp.MustCompile(`^StratoVirt (\S+)`)},
	// "alioth-cli 0.12.0": clap's version of the alioth-cli package.
	"alioth": {[]string{"--version"}, regexp.MustCompile(`^alioth(?:-cli)? v?(\S+)`)},
}

// ParseVersion returns the version in what the hypervisor called name
// printed when asked for it: "53.0-246-gae44c2971", "2.4.0". It is an
// error when the output is not the hypervisor's, or holds no release
// number.
func ParseVersion(name, output string) (string, error) {
	vf, ok := versionFormats[name]
	if !ok {
		return "", fmt.Errorf("no version format known for hypervisor %q", name)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(output), "\n")
	m := vf.line.FindStringSubmatch(strings.TrimSpace(first))
	if m == nil {
		return "", fmt.Errorf("unexpected version output %q; expected a line like %q", first, vf.line.String())
	}
	if _, ok := hypervisor.ParseVersion(m[1]); !ok {
		return "", fmt.Errorf("version %q in %q has no release number", m[1], first)
	}
	return m[1], nil
}

// Version runs binary's version command for the hypervisor called name and
// parses what it prints.
func Version(ctx context.Context, name, binary string) (string, error) {
	vf, ok := versionFormats[name]
	if !ok {
		return "", fmt.Errorf("no version format known for hypervisor %q", name)
	}
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, vf.args...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%q: %w", cmd.Args, err)
	}
	v, err := ParseVersion(name, string(out))
	if err != nil {
		return "", fmt.Errorf("%q: %w", cmd.Args, err)
	}
	return v, nil
}

// InstalledVersion is the probe generate.CheckInstalled uses: binary is
// what the runner execs, a path or a name looked up on PATH now.
func InstalledVersion(ctx context.Context) generate.VersionProbe {
	return func(name, binary string) (string, error) {
		path, err := exec.LookPath(binary)
		if err != nil {
			return "", err
		}
		return Version(ctx, name, path)
	}
}

// probeBinary finds the hypervisor g runs on a host with f and asks it for
// its version: f.Binary becomes the absolute path, so the runner runs the
// binary whose version was probed, and f.Version the version. A binary
// that is not installed, or does not tell, leaves them as they were: the
// generator then writes for the newest release it knows.
func probeBinary(ctx context.Context, g hypervisor.Generator, f *hypervisor.Facts) {
	path, err := exec.LookPath(hypervisor.Binary(g, *f))
	if err != nil {
		return
	}
	f.Binary = path
	if v, err := Version(ctx, g.Name(), path); err == nil {
		f.Version = v
	}
}
