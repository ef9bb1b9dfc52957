package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// ErrNoDaemon is returned when no daemon listens on the socket.
var ErrNoDaemon = errors.New("no microvm daemon is running")

// Client bounds. Every call also ends with its ctx (Ctrl-C).
const (
	// DialTimeout bounds connecting, retries on a full backlog included.
	DialTimeout = 5 * time.Second
	// StatusTimeout bounds a status request: the daemon reads the state
	// directory and answers, nothing waits on a VM.
	StatusTimeout = 15 * time.Second
	// margin covers what the daemon does around its own timeouts:
	// spawning the monitor, the monitor's teardown after a stop.
	margin = 30 * time.Second
)

// Bound is how long the client waits for verb: what the daemon may
// legitimately take, plus a margin. l is how the daemon stops the VM
// (the request's ladder over the VM's configured one).
func Bound(verb string, l supervisor.Ladder) time.Duration {
	stop := l.Longest() + margin
	start := supervisor.StartTimeout + margin
	switch verb {
	case "stop":
		return stop
	case "restart":
		return stop + start
	}
	return start
}

// Client talks to the daemon on its socket.
type Client struct {
	socket        string
	http          *http.Client
	dialTimeout   time.Duration
	statusTimeout time.Duration
}

// NewClient returns a client for the daemon of runtime directory dir.
func NewClient(dir string) *Client {
	c := &Client{socket: filepath.Join(dir, SocketName), dialTimeout: DialTimeout, statusTimeout: StatusTimeout}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
		// One request per connection: a kept-alive one would hold one of
		// the few connections the daemon grants each user.
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}}
	return c
}

// dial connects within the dial timeout. A full backlog (EAGAIN: many
// clients at once, or an attack the daemon is working off) is retried.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
	defer cancel()
	var d net.Dialer
	busy := fmt.Errorf("connecting to %s: its backlog stayed full for %s: %w", c.socket, c.dialTimeout, ErrBusy)
	retrying := false
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		conn, err := d.DialContext(ctx, "unix", c.socket)
		switch {
		case errors.Is(err, syscall.EAGAIN):
		case err != nil && retrying && ctx.Err() != nil:
			return nil, busy // the dial timeout ended a retry
		default:
			return conn, err
		}
		retrying = true
		select {
		case <-ctx.Done():
			return nil, busy
		case <-time.After(delay):
		}
	}
}

// Available reports whether a daemon listens (also a busy one).
func (c *Client) Available() bool {
	if _, err := os.Stat(c.socket); err != nil {
		return false
	}
	conn, err := c.dial(context.Background())
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	conn.Close()
	return true
}

// Statuses lists the VMs, within StatusTimeout.
func (c *Client) Statuses(ctx context.Context) ([]supervisor.Status, error) {
	var st []supervisor.Status
	return st, c.do(ctx, c.statusTimeout, http.MethodGet, "/v1/vms", nil, &st)
}

// Do runs verb (start, stop, restart) on the VM name and waits for it,
// up to bound (see Bound).
func (c *Client) Do(ctx context.Context, verb, name string, bound time.Duration) error {
	return c.do(ctx, bound, http.MethodPost, "/v1/vms/"+name+"/"+verb, nil, nil)
}

// Stop stops the VM name by req and says how its run ended, waiting up to
// bound (see Bound).
func (c *Client) Stop(ctx context.Context, name string, req StopRequest, bound time.Duration) (supervisor.Outcome, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return supervisor.Outcome{}, err
	}
	var rep StopReply
	err = c.do(ctx, bound, http.MethodPost, "/v1/vms/"+name+"/stop", body, &rep)
	return rep.Outcome, err
}

// Error is an error answer of the daemon. It Is the API error of its
// status (ErrForbidden, ErrBusy, …).
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Is(target error) bool {
	k := kindOf(e.Code)
	return k != nil && errors.Is(k, target)
}

func (c *Client) do(ctx context.Context, bound time.Duration, method, path string, body []byte, out any) error {
	bctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(bctx, method, "http://microvm"+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.failed(ctx, bctx, bound, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errorOf(resp, method, path)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return c.failed(ctx, bctx, bound, fmt.Errorf("reading the daemon's answer: %w", err))
	}
	return nil
}

// errorOf is the error of an answer other than 200.
func errorOf(resp *http.Response, method, path string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return &Error{Code: resp.StatusCode, Message: e.Error}
	}
	return &Error{Code: resp.StatusCode, Message: fmt.Sprintf("the daemon answered %s %s with %s", method, path, resp.Status)}
}

// failed explains a request that got no answer.
func (c *Client) failed(ctx, bctx context.Context, bound time.Duration, err error) error {
	var op *net.OpError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted waiting for the daemon (it may still carry the request out): %w", ctx.Err())
	case bctx.Err() != nil:
		return fmt.Errorf("no answer from the daemon within %s (it may still be working; see microvm status): %w", bound, bctx.Err())
	case errors.Is(err, ErrBusy):
		return err
	case !c.Available():
		return ErrNoDaemon
	case errors.As(err, &op) && op.Op == "dial":
		return err
	}
	// Connected, and then closed without an answer: the daemon refuses
	// connections over its caps with a 503 and closes them at once, and
	// a client that was still sending its request sees only the close
	// (or, when the 503 came first, a response it had not asked for yet).
	return fmt.Errorf("the daemon closed the connection without an answer; it may be at its connection limit: %w (%w)", ErrBusy, err)
}
