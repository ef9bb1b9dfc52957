package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// ErrNoDaemon is returned when no daemon listens on the socket.
var ErrNoDaemon = errors.New("no microvm daemon is running")

// Client talks to the daemon on its socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon of runtime directory dir.
func NewClient(dir string) *Client {
	sock := filepath.Join(dir, SocketName)
	return &Client{socket: sock, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}
}

// Available reports whether a daemon answers.
func (c *Client) Available() bool {
	if _, err := os.Stat(c.socket); err != nil {
		return false
	}
	conn, err := net.Dial("unix", c.socket)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Statuses lists the VMs.
func (c *Client) Statuses(ctx context.Context) ([]supervisor.Status, error) {
	var st []supervisor.Status
	return st, c.do(ctx, http.MethodGet, "/v1/vms", &st)
}

// Do runs verb (start, stop, restart) on the VM name and waits for it.
func (c *Client) Do(ctx context.Context, verb, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/vms/"+name+"/"+verb, nil)
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://microvm"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if !c.Available() {
			return ErrNoDaemon
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
