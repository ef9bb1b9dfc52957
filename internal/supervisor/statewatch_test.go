package supervisor

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/state"
)

// startedDaemon is a started Daemon over the state directory st that
// spawns nothing (no autostart; its monitor binary is /bin/false).
func startedDaemon(t *testing.T, st *state.Dir) *Daemon {
	t.Helper()
	d := &Daemon{
		State: st, Runtime: filepath.Join(t.TempDir(), "rt"), Microvm: "/bin/false",
		Config: &hostconfig.Config{AutostartParallel: 1}, Policy: DefaultPolicy,
		Log: slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// makeVM creates a VM directory the way create does: staged in .tmp with
// its current link, then renamed into place.
func makeVM(t *testing.T, st *state.Dir, name, runner string) {
	t.Helper()
	stage, err := st.Stage(name)
	if err != nil {
		t.Fatal(err)
	}
	defer stage.Abort()
	if err := stage.SetLink(state.CurrentLink, runner); err != nil {
		t.Fatal(err)
	}
	if err := stage.Commit(-1); err != nil {
		t.Fatal(err)
	}
}

// want reads events from s until it has len(kinds), and compares them.
func want(t *testing.T, s *Subscription, kinds ...string) []Event {
	t.Helper()
	stop := make(chan struct{})
	timer := time.AfterFunc(30*time.Second, func() { close(stop) })
	defer timer.Stop()
	var got []Event
	for len(got) < len(kinds) {
		events, ok := s.Next(stop)
		if !ok {
			break
		}
		got = append(got, events...)
	}
	var words []string
	for _, e := range got {
		words = append(words, e.VM+" "+e.Event)
	}
	if strings.Join(words, ", ") != strings.Join(kinds, ", ") {
		t.Fatalf("events: %s; want %s", strings.Join(words, ", "), strings.Join(kinds, ", "))
	}
	return got
}

// TestStateWatch: created, updated and removed are reported from the
// state directory, whoever changes it; VMs there before the daemon
// started are not reported as created.
func TestStateWatch(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := t.TempDir(), t.TempDir()
	makeVM(t, st, "old", r1)
	d := startedDaemon(t, st)
	s := d.Subscribe(time.Time{}, nil)
	defer s.Close()

	makeVM(t, st, "web", r1)
	got := want(t, s, "web created")
	if got[0].Reason != "runner "+r1 || got[0].State != Stopped {
		t.Errorf("created: %+v", got[0])
	}

	// A write to a file in the VM directory (a volume image) is no event;
	// the current link swapped (update) is.
	if err := os.WriteFile(st.Path("web", "var.img"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLink("web", state.CurrentLink, r2); err != nil {
		t.Fatal(err)
	}
	got = want(t, s, "web updated")
	if got[0].Reason != "runner "+r2+" (was runner "+r1+")" {
		t.Errorf("updated: %q", got[0].Reason)
	}
	if err := st.SetLink("old", state.CurrentLink, r2); err != nil {
		t.Fatal(err)
	}
	want(t, s, "old updated")

	// Removed, then a new VM of the same name: both, in order, and the
	// new directory is watched (not the old one in .tmp).
	if err := st.Remove("web"); err != nil {
		t.Fatal(err)
	}
	want(t, s, "web removed")
	makeVM(t, st, "web", r2)
	want(t, s, "web created")
	if err := st.SetLink("web", state.CurrentLink, r1); err != nil {
		t.Fatal(err)
	}
	want(t, s, "web updated")
}
