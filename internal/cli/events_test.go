package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// readEvents reads what `microvm events --json` wrote to path so far:
// complete lines only (the last may still be being written).
func readEvents(ts *testscript.TestScript, path string) []supervisor.Event {
	b, err := os.ReadFile(ts.MkAbs(path))
	if err != nil && !os.IsNotExist(err) {
		ts.Fatalf("%v", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var events []supervisor.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e supervisor.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			ts.Fatalf("%s: %q is not an event: %v", path, sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

// eventText is an event as eventseq compares it: "VM EVENT [in DELAY]:
// REASON".
func eventText(e supervisor.Event) string {
	s := e.VM + " " + e.Event
	if e.Delay != "" {
		s += " in " + e.Delay
	}
	return s + ": " + e.Reason
}

// waitevent FILE N VM EVENT: wait (up to 120 s) until the events FILE
// holds at least N events EVENT of VM.
func cmdWaitEvent(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: waitevent FILE N VM EVENT")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	deadline := time.Now().Add(120 * time.Second)
	var events []supervisor.Event
	for time.Now().Before(deadline) {
		events = readEvents(ts, args[0])
		count := 0
		for _, e := range events {
			if e.VM == args[2] && e.Event == args[3] {
				count++
			}
		}
		if count >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	var lines []string
	for _, e := range events {
		lines = append(lines, eventText(e))
	}
	ts.Fatalf("%s: not %d %s events of %s after 120 s; it has:\n%s", args[0], n, args[3], args[2], strings.Join(lines, "\n"))
}

// eventseq FILE EXPECTED: the events of FILE, of the VMs that EXPECTED
// names, are exactly EXPECTED's, in order. Each line of EXPECTED is a
// regular expression matched against a whole event as eventText writes
// it ("c restarting in 100ms: crashed: exit status 3"); its first word
// is the VM.
func cmdEventSeq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: eventseq FILE EXPECTED")
	}
	var want []*regexp.Regexp
	vms := map[string]bool{}
	for _, line := range strings.Split(ts.ReadFile(args[1]), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		vms[strings.Fields(line)[0]] = true
		want = append(want, regexp.MustCompile("^"+line+"$"))
	}
	var got []string
	for _, e := range readEvents(ts, args[0]) {
		if vms[e.VM] {
			got = append(got, eventText(e))
		}
	}
	var report strings.Builder
	ok := len(got) == len(want)
	for i := range max(len(got), len(want)) {
		g, w, mark := "(none)", "(none)", " "
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i].String()
		}
		if i >= len(got) || i >= len(want) || !want[i].MatchString(got[i]) {
			ok, mark = false, "!"
		}
		fmt.Fprintf(&report, "%s %-60s  want %s\n", mark, g, w)
	}
	if ok == neg {
		ts.Fatalf("events of %s:\n%s", args[0], report.String())
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"10m", now.Add(-10 * time.Minute), false},
		{"2026-12-03T09:00:00Z", now.Add(-time.Hour), false},
		{"-5m", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	} {
		got, err := parseSince(tc.in, now)
		if (err != nil) != tc.bad || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && ExitCode(err) != ExitUsage {
			t.Errorf("parseSince(%q): exit %d, want %d", tc.in, ExitCode(err), ExitUsage)
		}
	}
}

// TestEventLine: one line each, the outcome's words not repeated, and
// the guest's bytes escaped.
func TestEventLine(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 120e6, time.Local)
	for _, tc := range []struct {
		e    supervisor.Event
		want string
	}{
		{supervisor.Event{Time: at, VM: "web", Event: "crashed", Reason: "crashed: exit status 3"}, "2026-12-03 10:00:00.120  web  crashed: exit status 3"},
		{supervisor.Event{Time: at, VM: "web", Event: "restarting", Delay: "5s", Reason: "crashed: exit status 3"}, "2026-12-03 10:00:00.120  web  restarting in 5s: crashed: exit status 3"},
		{supervisor.Event{Time: at, VM: "web", Event: "stopped", Reason: "powered off by the guest"}, "2026-12-03 10:00:00.120  web  stopped: powered off by the guest"},
		{supervisor.Event{Time: at, VM: "web", Event: "crashed", Reason: "crashed: \x1b[2Jguest-panicked\nfake line"}, `2026-12-03 10:00:00.120  web  crashed: \x1b[2Jguest-panicked\nfake line`},
		{supervisor.Event{Time: at, Event: "lost", Lost: 12}, "2026-12-03 10:00:00.120  lost 12 events: this client read too slowly"},
	} {
		if got := eventLine(tc.e); got != tc.want {
			t.Errorf("eventLine(%+v) =\n%s\nwant\n%s", tc.e, got, tc.want)
		}
	}
}
