// Package api is the daemon's JSON API on a unix socket, and its client.
// The socket is the access control: root:GROUP 0660.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// SocketName is the API socket inside the runtime directory.
const SocketName = "microvm.sock"

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
}

// Handler serves d: GET /v1/vms, POST /v1/vms/{name}/{start,stop,restart}.
func Handler(d *supervisor.Daemon) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/vms", func(w http.ResponseWriter, r *http.Request) {
		st, err := d.Statuses()
		reply(w, st, err)
	})
	for verb, do := range map[string]func(ctx context.Context, name string) error{
		"start":   func(_ context.Context, name string) error { return d.StartVM(name) },
		"stop":    d.StopVM,
		"restart": d.RestartVM,
	} {
		mux.HandleFunc("POST /v1/vms/{name}/"+verb, func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			if err := do(r.Context(), name); err != nil {
				reply(w, nil, err)
				return
			}
			reply(w, map[string]string{"name": name, "done": verb}, nil)
		})
	}
	return mux
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, supervisor.ErrUnknownVM) {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(errorBody{Error: err.Error()})
		return
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
