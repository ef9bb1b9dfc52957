package runner

import (
	"fmt"
	"strings"
)

// line is one accepted value of a one-value-per-line file.
type line struct {
	n int // 1-based
	s string
}

// readLines reads a file in the format microvm.nix writes with echo:
// one value per line, each followed by "\n". A missing final newline is
// tolerated because hand-written files often lack it. Lines with problems
// are reported and left out. expect describes the content for messages,
// e.g. "one interface name per line".
func (l *loader) readLines(rel, expect string) ([]line, found) {
	data, f := l.readFile(rel)
	if f != lookupFound {
		return nil, f
	}
	if len(data) == 0 {
		l.add(rel, 0, "file is empty; expected "+expect)
		return nil, lookupFound
	}
	var lines []line
	for i, s := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		n := i + 1
		switch {
		case strings.HasSuffix(s, "\r"):
			l.add(rel, n, "line ends with CR; expected LF line endings")
		case s == "":
			l.add(rel, n, "blank line; expected "+expect)
		default:
			if err := checkText(s); err != nil {
				l.add(rel, n, err.Error())
				continue
			}
			lines = append(lines, line{n, s})
		}
	}
	return lines, lookupFound
}

// list reads a file of unique values, each accepted by check and then
// put into its canonical form by canon, if not nil.
func (l *loader) list(rel, what, noun string, check func(string) error, canon func(string) string) []line {
	lines, _ := l.readLines(rel, "one "+what+" per line")
	var vals []line
	first := make(map[string]int)
	for _, ln := range lines {
		if err := check(ln.s); err != nil {
			l.add(rel, ln.n, err.Error())
			continue
		}
		if canon != nil {
			ln.s = canon(ln.s)
		}
		if n, dup := first[ln.s]; dup {
			l.add(rel, ln.n, fmt.Sprintf("duplicate %s %q (first on line %d)", noun, ln.s, n))
			continue
		}
		first[ln.s] = ln.n
		vals = append(vals, ln)
	}
	return vals
}

func values(lines []line) []string {
	var vals []string
	for _, ln := range lines {
		vals = append(vals, ln.s)
	}
	return vals
}

// taps reads tap-interfaces and returns the line of each name, so that
// macvtaps can be checked against them.
func (l *loader) taps(r *Runner) map[string]int {
	lines := l.list(TapInterfacesFile, "interface name", "interface", CheckInterfaceName, nil)
	r.Taps = values(lines)
	first := make(map[string]int)
	for _, ln := range lines {
		first[ln.s] = ln.n
	}
	return first
}

func (l *loader) macvtaps(r *Runner, taps map[string]int) {
	lines, _ := l.readLines(MacvtapInterfacesFile, `one "id mac link mode" per line`)
	first := make(map[string]int)
	for _, ln := range lines {
		m, msgs := parseMacvtap(ln.s)
		for _, msg := range msgs {
			l.add(MacvtapInterfacesFile, ln.n, msg)
		}
		if msgs != nil {
			continue
		}
		if n, dup := first[m.ID]; dup {
			l.add(MacvtapInterfacesFile, ln.n, fmt.Sprintf("duplicate interface %q (first on line %d)", m.ID, n))
			continue
		}
		if n, dup := taps[m.ID]; dup {
			l.add(MacvtapInterfacesFile, ln.n, fmt.Sprintf("interface %q is also a tap (%s line %d)", m.ID, TapInterfacesFile, n))
			continue
		}
		first[m.ID] = ln.n
		r.Macvtaps = append(r.Macvtaps, m)
	}
}

// tapFlags reads tap-flags and returns the line of multi_queue (0 when
// absent) and whether the file exists, for the check against meta.json.
func (l *loader) tapFlags(r *Runner) (multiQueueLine int, present bool) {
	lines, f := l.readLines(TapFlagsFile, "one tap flag per line")
	first := make(map[string]int)
	for _, ln := range lines {
		if n, dup := first[ln.s]; dup {
			l.add(TapFlagsFile, ln.n, fmt.Sprintf("duplicate tap flag %q (first on line %d)", ln.s, n))
			continue
		}
		switch ln.s {
		case tapFlagVnetHdr:
			r.TapFlags.VnetHdr = true
		case tapFlagMultiQ:
			r.TapFlags.MultiQueue = true
			multiQueueLine = ln.n
		default:
			l.add(TapFlagsFile, ln.n, fmt.Sprintf("unknown tap flag %q; expected %s or %s", ln.s, tapFlagVnetHdr, tapFlagMultiQ))
			continue
		}
		first[ln.s] = ln.n
	}
	return multiQueueLine, f == lookupFound
}

// tapNetworks reads tap-networks; each line must name a tap of
// tap-interfaces, once.
func (l *loader) tapNetworks(r *Runner, taps map[string]int) {
	lines, _ := l.readLines(TapNetworksFile, `one "id network mac" per line`)
	first := make(map[string]int)
	for _, ln := range lines {
		n, msgs := parseTapNetwork(ln.s)
		for _, msg := range msgs {
			l.add(TapNetworksFile, ln.n, msg)
		}
		switch {
		case msgs != nil:
			continue
		case first[n.ID] != 0:
			l.add(TapNetworksFile, ln.n, fmt.Sprintf("duplicate interface %q (first on line %d)", n.ID, first[n.ID]))
			continue
		case taps[n.ID] == 0:
			l.add(TapNetworksFile, ln.n, fmt.Sprintf("interface %q is not in %s; expected one of the taps", n.ID, TapInterfacesFile))
			continue
		}
		first[n.ID] = ln.n
		r.TapNetworks = append(r.TapNetworks, n)
	}
}
