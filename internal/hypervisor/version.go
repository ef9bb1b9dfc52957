package hypervisor

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/microvm-host/microvm/internal/spec"
)

// Version is a hypervisor release, compared by its numbers only. Suffixes
// such as git describe's "-246-gae44c2971" (commits after the tag) or
// "-dev" (before it) are dropped: semver would order the former before
// its own tag, and both are close enough to the release for what
// generators decide. The zero Version means unknown.
type Version struct{ Major, Minor, Patch int }

// versionRe finds the first dotted release number in a version string or
// a line of --version output: "v53.0", "1.16.0-dev", "StratoVirt 2.4.0
// commit-id …".
var versionRe = regexp.MustCompile(`(?:^|[^0-9.])v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?`)

// ParseVersion finds the release number in s; ok is false when s holds
// none.
func ParseVersion(s string) (v Version, ok bool) {
	m := versionRe.FindStringSubmatch(s)
	if m == nil {
		return Version{}, false
	}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, true
}

// V is a Version literal for tables: V(50, 1) is 50.1.0.
func V(major, minor int, patch ...int) Version {
	v := Version{Major: major, Minor: minor}
	if len(patch) > 0 {
		v.Patch = patch[0]
	}
	return v
}

// IsZero reports whether v is unknown.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	for _, d := range [3]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {
		switch {
		case d < 0:
			return -1
		case d > 0:
			return 1
		}
	}
	return 0
}

// String is "50.1.0", or "unknown".
func (v Version) String() string {
	if v.IsZero() {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// MarshalText writes v as String does, and "" for unknown.
func (v Version) MarshalText() ([]byte, error) {
	if v.IsZero() {
		return nil, nil
	}
	return []byte(v.String()), nil
}

// UnmarshalText reads what MarshalText wrote.
func (v *Version) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*v = Version{}
		return nil
	}
	p, ok := ParseVersion(string(b))
	if !ok {
		return fmt.Errorf("version %q: expected a release number like 50.1.0", b)
	}
	*v = p
	return nil
}

// Versions is a range of releases: from Min (inclusive) up to Below
// (exclusive). A zero bound is open.
type Versions struct {
	Min   Version `json:"min,omitzero"`
	Below Version `json:"below,omitzero"`
}

// Contains reports whether v is in r. An unknown v is in every range.
func (r Versions) Contains(v Version) bool {
	if v.IsZero() {
		return true
	}
	return (r.Min.IsZero() || v.Compare(r.Min) >= 0) && (r.Below.IsZero() || v.Compare(r.Below) < 0)
}

// Narrow returns the part of r that is also in o.
func (r Versions) Narrow(o Versions) Versions {
	if !o.Min.IsZero() && (r.Min.IsZero() || o.Min.Compare(r.Min) > 0) {
		r.Min = o.Min
	}
	if !o.Below.IsZero() && (r.Below.IsZero() || o.Below.Compare(r.Below) < 0) {
		r.Below = o.Below
	}
	return r
}

// String is "any release", "50.1.0 or later", "before 2.5.0" or
// "50.1.0 or later, before 54.0.0".
func (r Versions) String() string {
	switch {
	case r.Min.IsZero() && r.Below.IsZero():
		return "any release"
	case r.Below.IsZero():
		return r.Min.String() + " or later"
	case r.Min.IsZero():
		return "before " + r.Below.String()
	}
	return r.Min.String() + " or later, before " + r.Below.String()
}

// Release is the installed hypervisor's release from f.Version; zero when
// the host facts did not tell (no binary found, or no number in its
// --version output). Generators then emit what the newest release they
// were checked against (Caps.Newest) needs.
func (f Facts) Release() Version {
	v, _ := ParseVersion(f.Version)
	return v
}

// Assume is the release a generator writes for: the probed one, or newest
// when the probe found none.
func (f Facts) Assume(newest Version) Version {
	if v := f.Release(); !v.IsZero() {
		return v
	}
	return newest
}

// CheckRelease refuses a probed release older than the oldest one the
// generator supports (c.Oldest), as a problem with the spec's hypervisor.
func CheckRelease(name string, f Facts, c Caps) error {
	v := f.Release()
	if v.IsZero() || c.Oldest.IsZero() || v.Compare(c.Oldest) >= 0 {
		return nil
	}
	return &spec.Error{Path: "hypervisor", Err: unsupported(fmt.Sprintf(
		"the installed %s (%s) is %s, older than %s, the oldest release this generator supports; upgrade it",
		name, f.Binary, v, c.Oldest))}
}
