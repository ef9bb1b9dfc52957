package generate

import (
	"fmt"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/printable"
)

// VersionProbe reports what binary (a path, or a name on PATH) says its
// version is, for the hypervisor called name; hostfacts.InstalledVersion
// is the real one.
type VersionProbe func(name, binary string) (version string, err error)

// CheckInstalled compares the hypervisor installed now with the release
// the generated runner in runnerDir was made for (its build.json): an
// installed release outside the runner's Requires is an error, since the
// runner would fail to start or misbehave (e.g. cloud-hypervisor before
// and after 50.1); one newer than the generator was checked against, or
// one that cannot be told, is a warning. Runners without a build record
// (Nix, hand-written) are not checked.
func CheckInstalled(runnerDir string, probe VersionProbe) (warning string, err error) {
	b, ok, err := ReadBuild(runnerDir)
	if err != nil || !ok || !b.claims() {
		return "", err
	}
	version, err := probe(b.Hypervisor, b.Binary)
	return b.checkVersion(version, err)
}

// claims reports whether the runner says anything about hypervisor
// releases; crosvm, kvmtool and qemu runners do not, and are not probed.
func (b Build) claims() bool {
	return b.Hypervisor != "" && (b.Requires != (hypervisor.Versions{}) || !b.Newest.IsZero())
}

// checkVersion is CheckInstalled's decision for what the probe returned.
func (b Build) checkVersion(installed string, probeErr error) (warning string, err error) {
	v, ok := hypervisor.ParseVersion(installed)
	switch {
	case probeErr != nil:
		return fmt.Sprintf("cannot tell which %s is installed (%v); the runner was made for %s and works with %s",
			b.Hypervisor, probeErr, b.madeFor(), b.Requires), nil
	case !ok:
		return fmt.Sprintf("%s says no release number (%q); the runner was made for %s and works with %s",
			b.Binary, installed, b.madeFor(), b.Requires), nil
	case !b.Requires.Contains(v):
		return "", fmt.Errorf("the installed %s (%s) is %s, but this runner was made for %s and works with %s only; rebuild it (microvm update) or install a matching %s",
			b.Hypervisor, b.Binary, v, b.madeFor(), b.Requires, b.Hypervisor)
	case !b.Newest.IsZero() && newerRelease(v, b.Newest):
		return fmt.Sprintf("the installed %s is %s, newer than %s, the newest release this generator was checked against; the runner may not work with it",
			b.Hypervisor, v, b.Newest), nil
	}
	return "", nil
}

// newerRelease reports whether v is a later major or minor release than
// newest: patch releases of the newest one checked are fine.
func newerRelease(v, newest hypervisor.Version) bool {
	return hypervisor.V(v.Major, v.Minor).Compare(hypervisor.V(newest.Major, newest.Minor)) > 0
}

// madeFor is the release the runner was made for, in words.
func (b Build) madeFor() string {
	if v := b.Facts.Release(); !v.IsZero() {
		return b.Hypervisor + " " + v.String()
	}
	if !b.Newest.IsZero() {
		return b.Hypervisor + " " + b.Newest.String() + " (none was found when building, so the newest checked)"
	}
	return b.Hypervisor + " of unknown release"
}

// Describe says, for build's output, which hypervisor release the runner
// was made for and what it cannot do on this host.
func (b Build) Describe() []string {
	var out []string
	switch {
	case b.Hypervisor == "":
	case b.Facts.Release().IsZero() && !b.Newest.IsZero():
		out = append(out, fmt.Sprintf("%s was not found or told no release: made for %s, the newest release checked; works with %s.",
			b.Hypervisor, b.Newest, b.Requires))
	case b.Facts.Release().IsZero():
		out = append(out, fmt.Sprintf("Made for %s (%s), release unknown.", b.Hypervisor, b.Binary))
	case b.Requires == (hypervisor.Versions{}):
		out = append(out, fmt.Sprintf("Made for %s %s (%s).", b.Hypervisor, b.Facts.Version, b.Binary))
	default:
		out = append(out, fmt.Sprintf("Made for %s %s (%s); works with %s.", b.Hypervisor, b.Facts.Version, b.Binary, b.Requires))
	}
	if i := b.Image; i != nil {
		// The process comes from the image's config: escaped.
		runs := "which runs %s"
		if i.ProcessSHA256 != "" {
			runs = "running the spec's [process] instead of its own process (%s)"
		}
		out = append(out, fmt.Sprintf("Boots image %s (config %s), "+runs+".", printable.Text(i.Ref), i.Config, printable.Text(strings.Join(i.Args, " "))))
	}
	for _, n := range b.Notes {
		out = append(out, "Note: "+n+".")
	}
	return out
}
