package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
)

// httpPut sends PUT path with body as JSON (none if nil) to the HTTP API
// that cloud-hypervisor and firecracker serve on their unix socket. A
// status other than 2xx is an error carrying the response body, where
// both put their explanation (firecracker: {"fault_message": …}).
func httpPut(ctx context.Context, socket, path string, body any) error {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()

	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	// The host part is ignored: the transport always dials socket.
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://localhost"+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if msg = bytes.TrimSpace(msg); len(msg) > 0 {
			return fmt.Errorf("PUT %s: %s: %s", path, resp.Status, msg)
		}
		return fmt.Errorf("PUT %s: %s", path, resp.Status)
	}
	return nil
}
