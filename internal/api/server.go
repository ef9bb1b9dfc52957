// Package api is the daemon's JSON API on a unix socket, and its client.
// The socket (root:GROUP 0660) decides who may connect; the kernel's
// record of each peer (SO_PEERCRED) decides what it may do (Access) and
// how many connections it may hold (Listener).
package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// SocketName is the API socket inside the runtime directory.
const SocketName = "microvm.sock"

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
}

// Daemon is what the API serves; *supervisor.Daemon is one.
type Daemon interface {
	Statuses() ([]supervisor.Status, error)
	StartVM(name string) error
	// StopVM stops by the ladder l, whose zero steps are the VM's
	// configured ones, and says how the run ended.
	StopVM(ctx context.Context, name string, l supervisor.Ladder) (supervisor.Outcome, error)
	RestartVM(ctx context.Context, name string) error
}

// Verbs are the mutating verbs, POST /v1/vms/{name}/VERB.
var Verbs = []string{"start", "stop", "restart"}

// Handler serves d: GET /v1/vms and, when d is an EventSource, GET
// /v1/events (see EventsPath) for everyone who can connect; POST
// /v1/vms/{name}/{start,stop,restart} for those acc allows. A stop may
// carry a StopRequest and is answered with a StopReply. Every change is
// logged with the uid that asked for it.
func Handler(d Daemon, acc *Access, log *slog.Logger) http.Handler {
	forbidden := newRateLog(log, DefaultLimits.LogEvery)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/vms", func(w http.ResponseWriter, r *http.Request) {
		st, err := d.Statuses()
		reply(w, st, err)
	})
	do := map[string]func(r *http.Request, name string) (any, error){
		"start": func(_ *http.Request, name string) (any, error) { return nil, d.StartVM(name) },
		"stop": func(r *http.Request, name string) (any, error) {
			l, err := readStopRequest(r.Body)
			if err != nil {
				return nil, err
			}
			o, err := d.StopVM(r.Context(), name, l)
			return StopReply{Name: name, Done: "stop", Outcome: o}, err
		},
		"restart": func(r *http.Request, name string) (any, error) { return nil, d.RestartVM(r.Context(), name) },
	}
	if src, ok := d.(EventSource); ok {
		mux.HandleFunc("GET "+EventsPath, eventsHandler(src))
	}
	for _, verb := range Verbs {
		mux.HandleFunc("POST /v1/vms/{name}/"+verb, func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			p, known := PeerFrom(r.Context())
			if err := acc.MayChange(p, known); err != nil {
				forbidden.warn(p.UID, "refusing an API request", "uid", p.UID, "verb", verb, "vm", name, "err", err)
				reply(w, nil, err)
				return
			}
			if err := state.CheckName(name); err != nil {
				reply(w, nil, &kindError{ErrInvalidName, err.Error()})
				return
			}
			log.Info("API request", "uid", p.UID, "pid", p.PID, "verb", verb, "vm", name)
			out, err := do[verb](r, name)
			if err != nil {
				reply(w, nil, err)
				return
			}
			if out == nil {
				out = map[string]string{"name": name, "done": verb}
			}
			reply(w, out, nil)
		})
	}
	return mux
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(statusOf(err))
		v = errorBody{Error: err.Error()}
	}
	json.NewEncoder(w).Encode(v)
}

// Listen creates the API socket at path, mode 0660, group gid (-1: keep).
// A stale socket is replaced; a live one (another daemon) is refused.
func Listen(path string, gid int) (net.Listener, error) {
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another daemon is listening", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err == nil && gid >= 0 {
		err = os.Chown(path, 0, gid)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
