package virtiofsd

import (
	"strconv"
	"strings"
)

// Args is the command line (binary first) of the daemon serving s. It is
// pure: Start fills in Config defaults before calling it.
//
// Both flavors accept --socket-group only as a group name, and the Rust one
// exits when the name does not resolve, so the fleet sets the socket's
// group itself (Config.Group) and Args never passes it. --posix-acl is not
// passed either: older Rust releases and the QEMU flavor reject it; add it
// through ExtraArgs where supported.
func Args(flavor Flavor, binary string, s Share, c Config) []string {
	args := []string{binary, "--socket-path=" + s.Socket}
	switch flavor {
	case QEMU:
		args = append(args, "-o", "source="+escapeOpt(s.Source))
	default:
		args = append(args, "--shared-dir="+s.Source)
	}
	if c.ThreadPoolSize > 0 {
		args = append(args, "--thread-pool-size="+strconv.Itoa(c.ThreadPoolSize))
	}
	switch flavor {
	case QEMU:
		args = append(args, "-o", "xattr")
	default:
		args = append(args, "--xattr")
		if c.AnnounceTags {
			args = append(args, "--tag="+s.Tag)
		}
	}
	return append(args, c.ExtraArgs...)
}

// escapeOpt escapes a value inside the QEMU flavor's -o list, which libfuse
// splits at commas unless they are backslash-escaped.
func escapeOpt(v string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`).Replace(v)
}
