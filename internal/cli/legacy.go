package cli

import (
	"fmt"
	"io"
	"strings"
)

// translateLegacy rewrites microvm.nix's getopts command line
// (":c:C:f:uRr:s:l") into the long verbs, so scripts written for it keep
// working: -c NAME [-f FLAKE], -u NAME... [-R], -r NAME, -l. Options may
// be combined (-Ru) and must precede the names; the last action wins.
// Unlike microvm.nix, an unknown option is a usage error (exit 2) rather
// than the help text with exit 0. Leading --state-dir flags are kept.
func translateLegacy(args []string, stderr io.Writer) ([]string, error) {
	var global []string
	for len(args) > 0 && strings.HasPrefix(args[0], "--state-dir") {
		n := 1
		if args[0] == "--state-dir" && len(args) > 1 {
			n = 2
		}
		global, args = append(global, args[:n]...), args[n:]
	}
	if len(args) == 0 || !isLegacyOption(args[0]) {
		return append(global, args...), nil
	}

	var action, name, flake string
	var restart bool
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" || strings.HasPrefix(a, "--") {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			switch c {
			case 'c', 'r', 'f', 'C', 's':
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, usageError("option -%c needs an argument", c)
					}
					i++
					val = args[i]
				}
				j = len(a)
				switch c {
				case 'c':
					action, name = "create", val
				case 'r':
					action, name = "run", val
				case 'f':
					flake = val
				case 'C':
					return nil, usageError("-C (attach console) was removed from microvm.nix; use microvm console %s once the supervisor is installed", val)
				case 's':
					return nil, usageError("-s (ssh over vsock) is not supported")
				}
			case 'u':
				action = "update"
			case 'R':
				restart = true
			case 'l':
				action = "list"
			default:
				return nil, usageError("unknown option -%c; see microvm --help", c)
			}
		}
	}
	rest := args[i:]

	out := global
	switch action {
	case "create":
		out = append(out, "create", name)
		if flake != "" {
			out = append(out, "--from", flake)
		}
	case "update":
		if flake != "" {
			fmt.Fprintln(stderr, "microvm: -f is ignored by -u: update rebuilds from the recorded source")
		}
		out = append(out, "update")
		if restart {
			out = append(out, "--restart")
		}
	case "run":
		out = append(out, "run", name)
	case "list":
		out = append(out, "list")
	default:
		return nil, usageError("no action given (-c, -u, -r or -l); see microvm --help")
	}
	if action != "update" && len(rest) > 0 {
		return nil, usageError("unexpected argument %q", rest[0])
	}
	return append(out, rest...), nil
}

// isLegacyOption reports whether arg starts microvm.nix's short options:
// any single-dash option but -h, which is the help of the long verbs.
func isLegacyOption(arg string) bool {
	return len(arg) >= 2 && arg[0] == '-' && arg[1] != '-' && arg[1] != 'h'
}
