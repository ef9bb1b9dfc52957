package generate

import (
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

// script assembles a POSIX sh script line by line. Every value that comes
// from the spec is quoted, never interpolated: a tag or path cannot
// inject shell code.
type script struct {
	b   strings.Builder
	err error
}

func newScript(comment string) *script {
	s := &script{}
	s.b.WriteString("#!/bin/sh\n# " + comment + "\nset -eu\n")
	return s
}

func (s *script) line(l string) { s.b.WriteString(l + "\n") }

// words quotes args into one command line.
func (s *script) words(args ...string) string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		out = append(out, s.quote(a))
	}
	return strings.Join(out, " ")
}

// quote quotes one argument. An argument naming a file inside the runner
// (hypervisor.RunnerPath) becomes "$runner"/rest, and a macvtap's device
// (hypervisor.MacvtapDevice) "/dev/tap$(cat /sys/class/net/ID/ifindex)",
// both resolved at run time.
func (s *script) quote(a string) string {
	if parts := hypervisor.SplitMacvtapDevices(a); len(parts) > 1 {
		var b strings.Builder
		for i, p := range parts {
			switch {
			case i%2 == 1:
				b.WriteString(`"/dev/tap$(cat /sys/class/net/` + s.quote(p) + `/ifindex)"`)
			case p != "":
				b.WriteString(s.quote(p))
			}
		}
		return b.String()
	}
	if rest, ok := strings.CutPrefix(a, hypervisor.RunnerFile); ok {
		return `"$runner"/` + s.quote(rest)
	}
	if a == "" {
		return "''"
	}
	q, err := syntax.Quote(a, syntax.LangPOSIX)
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("cannot quote %q for sh: %w", a, err)
	}
	return q
}

func (s *script) bytes() ([]byte, error) { return []byte(s.b.String()), s.err }
