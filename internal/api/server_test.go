package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// fakeDaemon records the calls it gets; VMs it does not know are
// supervisor.ErrUnknownVM, as the real one's.
type fakeDaemon struct {
	mu      sync.Mutex
	calls   []string
	known   map[string]bool
	fail    error
	many    int // this many more VMs in Statuses
	outcome supervisor.Outcome
}

func (f *fakeDaemon) Statuses() ([]supervisor.Status, error) {
	st := []supervisor.Status{{Name: "web", State: supervisor.Running}}
	for i := range f.many {
		st = append(st, supervisor.Status{Name: fmt.Sprintf("vm%d", i), State: supervisor.Stopped, LastExit: strings.Repeat("x", 100)})
	}
	return st, nil
}

func (f *fakeDaemon) act(verb, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, verb+" "+name)
	if !f.known[name] {
		return fmt.Errorf("%q: %w", name, supervisor.ErrUnknownVM)
	}
	return f.fail
}

func (f *fakeDaemon) StartVM(name string) error { return f.act("start", name) }

// StopVM records the ladder it was asked for after the name, its zero
// steps as 0s.
func (f *fakeDaemon) StopVM(_ context.Context, name string, l supervisor.Ladder) (supervisor.Outcome, error) {
	if err := f.act(fmt.Sprintf("stop(%s %s %s)", l.Timeout, l.Resend, l.KillAfter), name); err != nil {
		return supervisor.Outcome{}, err
	}
	return f.outcome, nil
}

func (f *fakeDaemon) RestartVM(_ context.Context, name string) error {
	return f.act("restart", name)
}

func TestHandler(t *testing.T) {
	acc := &Access{vmUser: "microvm", vmUID: 1000, hasVMUser: true, adminGroup: "ops", adminGID: 50, hasAdmin: true, proc: t.TempDir()}
	root, vmUser, admin, other := Peer{UID: 0}, Peer{UID: 1000, GID: 50}, Peer{UID: 1001, GID: 50}, Peer{UID: 1002, GID: 1002}
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		peer         *Peer // nil: not through a Listener
		fail         error
		code         int
		want         string // in the body
		call         string // what the daemon was asked, "" nothing
	}{
		{"status for anyone", "GET", "/v1/vms", "", &vmUser, nil, 200, `"name":"web"`, ""},
		{"status without a peer", "GET", "/v1/vms", "", nil, nil, 200, `"name":"web"`, ""},
		{"root stops", "POST", "/v1/vms/web/stop", "", &root, nil, 200, `"done":"stop","outcome":{"how":"shut-down","requested":true,"after":"3.2s","message":"shut down by the guest after 3.2 s"}`, "stop(0s 0s 0s) web"},
		{"admin restarts", "POST", "/v1/vms/web/restart", "", &admin, nil, 200, `"done":"restart"`, "restart web"},
		{"VM user", "POST", "/v1/vms/web/start", "", &vmUser, nil, 403, `permission denied: uid 1000 is the VM user \"microvm\"`, ""},
		{"other user", "POST", "/v1/vms/web/stop", "", &other, nil, 403, `is for root and members of group \"ops\"`, ""},
		{"no peer", "POST", "/v1/vms/web/stop", "", nil, nil, 403, "could not tell who is asking", ""},
		{"invalid name", "POST", "/v1/vms/Bad!/start", "", &root, nil, 400, `invalid VM name \"Bad!\"`, ""},
		{"escaped newline", "POST", "/v1/vms/a%0Arm/start", "", &root, nil, 400, `invalid VM name \"a\\nrm\"`, ""},
		{"too long", "POST", "/v1/vms/" + strings.Repeat("a", 64) + "/start", "", &root, nil, 400, "64 bytes, at most 63", ""},
		{"unknown VM", "POST", "/v1/vms/nosuch/start", "", &root, nil, 404, `\"nosuch\": no such VM`, "start nosuch"},
		{"daemon error", "POST", "/v1/vms/web/start", "", &root, errors.New("starting \"web\": exit status 1"), 500, "exit status 1", "start web"},
		{"stop times", "POST", "/v1/vms/web/stop", `{"timeout":"5s","resend":"1s","killAfter":"500ms"}`, &root, nil, 200, `"done":"stop"`, "stop(5s 1s 500ms) web"},
		{"some stop times", "POST", "/v1/vms/web/stop", ` {"killAfter":"2m"} `, &root, nil, 200, `"done":"stop"`, "stop(0s 0s 2m0s) web"},
		{"empty stop", "POST", "/v1/vms/web/stop", `{}`, &root, nil, 200, `"done":"stop"`, "stop(0s 0s 0s) web"},
		{"bad stop time", "POST", "/v1/vms/web/stop", `{"timeout":"soon"}`, &root, nil, 400, `stop request: timeout \"soon\": expected a positive duration like \"40s\"`, ""},
		{"negative stop time", "POST", "/v1/vms/web/stop", `{"resend":"-1s"}`, &root, nil, 400, `resend \"-1s\": expected a positive duration`, ""},
		{"unknown stop key", "POST", "/v1/vms/web/stop", `{"timout":"5s"}`, &root, nil, 400, `unknown field \"timout\"`, ""},
		{"stop body not an object", "POST", "/v1/vms/web/stop", `"5s"`, &root, nil, 400, "stop request: json: cannot unmarshal string", ""},
		{"two stop bodies", "POST", "/v1/vms/web/stop", `{} {}`, &root, nil, 400, "more than one JSON value", ""},
		{"stop body of a forbidden peer", "POST", "/v1/vms/web/stop", `{"timeout":"soon"}`, &other, nil, 403, "is for root", ""},
		{"body too large", "POST", "/v1/vms/web/stop", strings.Repeat("x", 5000), &root, nil, 413, "request body over 4096 bytes", ""},
		{"unknown verb", "POST", "/v1/vms/web/frob", "", &root, nil, 404, "", ""},
		{"wrong method", "GET", "/v1/vms/web/stop", "", &root, nil, 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDaemon{known: map[string]bool{"web": true}, fail: tc.fail,
				outcome: supervisor.Outcome{How: supervisor.ShutDown, Requested: true, After: 3200 * time.Millisecond}}
			log, _ := newTestLog()
			h := NewServer(Handler(d, acc, log), testLimits(), log).Handler
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.peer != nil {
				req = req.WithContext(withPeer(req.Context(), *tc.peer))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s %s: %d %s; want %d with %q", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.want)
			}
			if got := strings.Join(d.calls, ","); got != tc.call {
				t.Fatalf("daemon calls %q, want %q", got, tc.call)
			}
		})
	}
}

func TestStatusOfRoundTrip(t *testing.T) {
	for _, kind := range []error{ErrBadRequest, ErrInvalidName, ErrForbidden, ErrUnknownVM, ErrTooLarge, ErrBusy} {
		code := statusOf(fmt.Errorf("context: %w", kind))
		if code == http.StatusInternalServerError {
			t.Fatalf("%v: 500", kind)
		}
		back := &Error{Code: code, Message: "x"}
		if !errors.Is(back, kindOf(code)) || (kind != ErrInvalidName && !errors.Is(back, kind)) {
			t.Fatalf("%v → %d → not the same kind", kind, code)
		}
	}
}
