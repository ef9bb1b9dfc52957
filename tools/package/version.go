package main

import (
	"fmt"
	"regexp"
	"strings"
)

// describe is what `git describe --tags --always --dirty` prints: a tag
// (v1.2.3, v1.2.3-rc1), commits since it and the commit (-4-gabc1234), or
// only the commit when there is no tag; -dirty for local changes.
var describe = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(?:-([0-9A-Za-z.]+?))?(?:-([0-9]+)-g([0-9a-f]+))?$`)

var commitOnly = regexp.MustCompile(`^[0-9a-f]{4,40}$`)

// debianVersion turns a git describe version into a Debian one that sorts
// as the releases do: v1.2.3 is 1.2.3; a pre-release comes before its
// release (v1.2.3-rc1: 1.2.3~rc1); commits after a tag come after it
// (v1.2.3-4-gabc1234: 1.2.3+4.gabc1234); a tree without tags is
// 0.0.0+git.abc1234, below any release.
func debianVersion(v string) (string, error) {
	clean, dirty := strings.CutSuffix(v, "-dirty")
	var out string
	switch m := describe.FindStringSubmatch(clean); {
	case commitOnly.MatchString(clean):
		out = "0.0.0+git." + clean
	case m == nil:
		return "", fmt.Errorf("version %q: expected what git describe --tags --always --dirty prints, like v1.2.3, v1.2.3-4-gabc1234 or abc1234", v)
	default:
		out = m[1]
		if m[2] != "" {
			out += "~" + m[2]
		}
		if m[3] != "" {
			out += "+" + m[3] + ".g" + m[4]
		}
	}
	if dirty {
		// After the commit's own version: it has local changes on top.
		if strings.Contains(out, "+") {
			out += ".dirty"
		} else {
			out += "+dirty"
		}
	}
	return out, nil
}
