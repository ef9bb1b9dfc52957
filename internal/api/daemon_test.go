package api

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// realDaemon is a started supervisor.Daemon over a state directory in
// root that holds one stopped VM, "vm". Nothing here spawns a monitor:
// stopping a VM that does not run is the mutation the tests ask for.
func realDaemon(t *testing.T, root string) *supervisor.Daemon {
	t.Helper()
	st, err := state.Open(filepath.Join(root, "state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(st.VMPath("vm"), 0o755); err != nil {
		t.Fatal(err)
	}
	log, _ := newTestLog()
	dm := &supervisor.Daemon{
		State: st, Runtime: filepath.Join(root, "rt"), Microvm: "/bin/false",
		Config: &hostconfig.Config{AutostartParallel: 1, StopTimeout: hostconfig.Duration{Duration: time.Second}},
		Policy: supervisor.DefaultPolicy, Log: log,
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := dm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return dm
}

// TestRealDaemonErrors: the statuses of the real daemon's errors, which
// were all 500 (an invalid name among them).
func TestRealDaemonErrors(t *testing.T) {
	dm := realDaemon(t, t.TempDir())
	log, _ := newTestLog()
	h := NewServer(Handler(dm, &Access{}, log), testLimits(), log).Handler
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/v1/vms", 200, `"name":"vm"`},
		{"POST", "/v1/vms/vm/stop", 200, `"done":"stop"`},
		{"POST", "/v1/vms/Bad!/start", 400, `invalid VM name \"Bad!\"`},
		{"POST", "/v1/vms/-x/stop", 400, "must start with a letter or digit"},
		{"POST", "/v1/vms/nosuch/start", 404, `\"nosuch\": no such VM`},
		{"POST", "/v1/vms/nosuch/restart", 404, "no such VM"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req = req.WithContext(withPeer(req.Context(), Peer{UID: 0}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s; want %d with %q", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, ct)
		}
	}
}
