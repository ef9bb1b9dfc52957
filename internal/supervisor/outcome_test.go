package supervisor

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
)

func TestExitOutcome(t *testing.T) {
	for _, tc := range []struct {
		rec     ExitRecord
		ok      bool
		how     string
		message string
		clean   bool
	}{
		{ExitRecord{Code: 0, Ending: control.EndPowerOff, Reason: "guest-shutdown"}, true, PoweredOff, "powered off by the guest", true},
		{ExitRecord{Code: 0, Ending: control.EndReboot, Reason: "guest-reset"}, true, Rebooted, "rebooted by the guest", false},
		{ExitRecord{Code: 32, Ending: control.EndReboot, Reason: "crosvm exit status 32"}, true, Rebooted, "rebooted by the guest", false},
		{ExitRecord{Code: 0}, true, Exited, "the hypervisor exited with status 0", true},
		{ExitRecord{Code: 0, Ending: control.EndHost, Reason: "host-signal"}, true, Exited, "the hypervisor exited with status 0 (host-signal)", true},
		{ExitRecord{Code: 0, Ending: control.EndPanic, Reason: "guest-panic"}, true, Crashed, "crashed: exit status 0 (guest-panic)", false},
		{ExitRecord{Code: 3}, true, Crashed, "crashed: exit status 3", false},
		{ExitRecord{Code: 137}, true, Crashed, "crashed: signal 9 (killed)", false},
		{ExitRecord{}, false, Crashed, "crashed: the monitor ended without recording an exit status", false},
		// An image VM's process: its status decides on-failure.
		{ExitRecord{Code: 0, Ending: control.EndPowerOff, Process: ptr(7)}, true, PoweredOff, "the image's process exited with status 7; powered off by the guest", false},
		{ExitRecord{Code: 0, Process: ptr(0)}, true, Exited, "the image's process exited with status 0; the hypervisor exited with status 0", true},
	} {
		o := ExitOutcome(tc.rec, tc.ok)
		if o.How != tc.how || o.String() != tc.message || o.Clean() != tc.clean {
			t.Errorf("%+v: %s %q clean=%v; want %s %q clean=%v", tc.rec, o.How, o, o.Clean(), tc.how, tc.message, tc.clean)
		}
	}
}

// TestRefine: a stop only knows the hypervisor exited before SIGTERM; the
// exit record says whether the guest powered off or rebooted, and a
// reboot answering a stop is still a stop.
func TestRefine(t *testing.T) {
	stop := Outcome{How: ShutDown, Requested: true, Graceful: true, After: 3200 * time.Millisecond}
	for _, tc := range []struct {
		o       Outcome
		rec     ExitRecord
		ok      bool
		message string
	}{
		{stop, ExitRecord{Ending: control.EndPowerOff}, true, "powered off by the guest after 3.2 s"},
		{stop, ExitRecord{Ending: control.EndReboot}, true, "rebooted by the guest after 3.2 s"},
		{stop, ExitRecord{}, true, "shut down by the guest after 3.2 s"},
		{stop, ExitRecord{}, false, "shut down by the guest after 3.2 s"},
		{Outcome{How: Terminated, Requested: true, Graceful: true, Timeout: 40 * time.Second}, ExitRecord{Ending: control.EndHost}, true, "did not power off within 40 s; terminated"},
	} {
		if got := tc.o.Refine(tc.rec, tc.ok).String(); got != tc.message {
			t.Errorf("%+v refined by %+v: %q; want %q", tc.o, tc.rec, got, tc.message)
		}
	}
}

func TestOutcomeJSON(t *testing.T) {
	code := 0
	o := Outcome{How: Terminated, Requested: true, Graceful: true, After: 40*time.Second + 123*time.Millisecond, Timeout: 40 * time.Second, KillAfter: 10 * time.Second, Code: &code, Reason: "host-signal"}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"how":"terminated","requested":true,"graceful":true,"after":"40.123s","timeout":"40s","killAfter":"10s","code":0,"reason":"host-signal","message":"did not power off within 40 s; terminated"}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
	var back Outcome
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(o, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"how":"killed","after":"soon"}`), &back); err == nil {
		t.Error("a bad duration was accepted")
	}
}

func ptr[T any](v T) *T { return &v }
