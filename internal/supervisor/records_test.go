package supervisor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
)

// TestExitRecordStays: status reads the last exit without a daemon, so
// reading it must not consume it; RemoveExit does.
func TestExitRecordStays(t *testing.T) {
	rt := t.TempDir()
	if _, ok := ReadExit(rt, "vm"); ok {
		t.Fatal("a record before any run")
	}
	if err := WriteExit(rt, "vm", ExitRecord{Code: 1, Tail: []string{"qemu: Permission denied"}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rec, ok := ReadExit(rt, "vm")
		if !ok || rec.Code != 1 || rec.Time.IsZero() || len(rec.Tail) != 1 {
			t.Fatalf("ReadExit = %+v, %v", rec, ok)
		}
	}
	if err := RemoveExit(rt, "vm"); err != nil {
		t.Fatal(err)
	}
	if _, ok := ReadExit(rt, "vm"); ok {
		t.Error("record left after RemoveExit")
	}
	if err := RemoveExit(rt, "vm"); err != nil {
		t.Errorf("removing no record: %v", err)
	}
}

// TestExitRecordTailBounded: whatever the monitor hands over, the record
// keeps the last TailLines lines within TailBytes.
func TestExitRecordTailBounded(t *testing.T) {
	rt := t.TempDir()
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("line %d", i))
	}
	long := strings.Repeat("x", 1500)
	for _, tc := range []struct {
		name  string
		tail  []string
		lines int
		last  string
	}{
		{"lines", many, TailLines, "line 99"},
		{"bytes", []string{long, long, long, "end"}, 3, "end"},
	} {
		if err := WriteExit(rt, "vm", ExitRecord{Code: 1, Tail: tc.tail}); err != nil {
			t.Fatal(err)
		}
		rec, _ := ReadExit(rt, "vm")
		if len(rec.Tail) != tc.lines || rec.Tail[len(rec.Tail)-1] != tc.last || tailSize(rec.Tail) > TailBytes {
			t.Errorf("%s: kept %d lines (%d bytes) ending %q; want %d ending %q", tc.name, len(rec.Tail), tailSize(rec.Tail), rec.Tail[len(rec.Tail)-1], tc.lines, tc.last)
		}
	}
}

func TestExitRecordSummary(t *testing.T) {
	for _, tc := range []struct {
		rec  ExitRecord
		want string
	}{
		{ExitRecord{Code: 0, Ending: control.EndPowerOff}, "powered off by the guest"},
		{ExitRecord{Code: 0}, "the hypervisor exited with status 0"},
		{ExitRecord{Code: 3}, "crashed: exit status 3"},
		{ExitRecord{Code: 1, Error: `running "vm": no current runner`}, `did not start: running "vm": no current runner`},
	} {
		if got := tc.rec.Summary(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.rec, got, tc.want)
		}
	}
}
