package control

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

type request struct{ method, path, contentType, body string }

// serveUnix serves one canned response on a unix socket and records the
// requests it gets.
func serveUnix(t *testing.T, status int, response string) (string, *[]request) {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	var got []request
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b)})
		w.WriteHeader(status)
		io.WriteString(w, response)
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return socket, &got
}

func TestHTTPRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(socket string) error
		want request
	}{
		{"cloud-hypervisor shutdown", func(s string) error {
			return RequestShutdown(t.Context(), hypervisor.ShutdownCloudHypervisor, s, "")
		}, request{"PUT", "/api/v1/vm.power-button", "", ""}},
		{"firecracker shutdown", func(s string) error {
			return RequestShutdown(t.Context(), hypervisor.ShutdownFirecracker, s, "")
		}, request{"PUT", "/actions", "application/json", `{"action_type":"SendCtrlAltDel"}`}},
		{"cloud-hypervisor balloon", func(s string) error {
			got, err := Balloon(t.Context(), hypervisor.BalloonCloudHypervisor, s, "", 256)
			if err == nil && got != 256 {
				t.Errorf("Balloon = %d, want 256", got)
			}
			return err
		}, request{"PUT", "/api/v1/vm.resize", "application/json", `{"desired_balloon":268435456}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			socket, got := serveUnix(t, http.StatusNoContent, "")
			if err := tc.call(socket); err != nil {
				t.Fatal(err)
			}
			if len(*got) != 1 || (*got)[0] != tc.want {
				t.Errorf("requests = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestHTTPErrorStatus(t *testing.T) {
	socket, _ := serveUnix(t, http.StatusBadRequest, `{"fault_message": "SendCtrlAltDel is not supported"}`+"\n")
	err := RequestShutdown(t.Context(), hypervisor.ShutdownFirecracker, socket, "")
	want := `requesting shutdown (firecracker) over "` + socket +
		`": PUT /actions: 400 Bad Request: {"fault_message": "SendCtrlAltDel is not supported"}`
	if err == nil || err.Error() != want {
		t.Errorf("RequestShutdown = %v\nwant %s", err, want)
	}
}

func TestHTTPNoServer(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "gone.sock")
	err := RequestShutdown(t.Context(), hypervisor.ShutdownCloudHypervisor, socket, "")
	if err == nil || !strings.Contains(err.Error(), socket) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RequestShutdown without a server = %v", err)
	}
}
